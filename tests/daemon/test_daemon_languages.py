# SPDX-License-Identifier: MIT
"""Every language's example function (images/examples/<lang>, the compiled ones as built
into $LAMINA_BUILD/examples/<lang>) deployed on laminad: invoked cold and warm, it echoes
its event with the context's fields; an event with an "error" property makes it fail
with FunctionError Unhandled and Lambda's error shape. Then what each runtime adds: Java's
String and Map events, typed handlers and classes directories; C#'s string and object
events; Go's panics; the init errors of bad handlers.

Build first: `make build/bin/laminad lang-runtimes` (with BUILD=… for another build dir).
"""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from laminad_harness import BUILD, EXAMPLES, REPO, get_logs, make_code_dir

ARN_PREFIX = "arn:aws:lambda:local:000000000000:function:"
PAYLOAD = {"s": "héllo ☃ \"quoted\" \\ \n\t/", "n": [1, 2.5, -3, None, True, False, 12345678901234],
           "o": {"deep": {"x": [], "y": {}}}, "e": ""}
JAVA_RUNTIME_JAR = REPO / "images" / "runtimes" / "java17" / "lamina-runtime.jar"
# The JDK the java17 runtime runs (another javac on PATH may target a newer class format).
JAVAC = next(iter(sorted(Path("/usr/lib/jvm").glob("java-17-openjdk-*/bin/javac"))), None)

# Where each example comes from; the context's field names as the language spells them.
CAMEL = {"name": "functionName", "version": "functionVersion", "arn": "invokedFunctionArn",
         "memory": "memoryLimitInMB", "request": "awsRequestId", "group": "logGroupName",
         "stream": "logStreamName", "left": "remainingTimeInMillis"}
SNAKE = {"name": "function_name", "version": "function_version", "arn": "invoked_function_arn",
         "memory": "memory_limit_in_mb", "request": "aws_request_id", "group": "log_group_name",
         "stream": "log_stream_name", "left": "remaining_time_in_millis"}
LANGUAGES = {
    "python": (EXAMPLES / "python", SNAKE, "ExampleError"),
    "nodejs": (EXAMPLES / "nodejs", CAMEL, "ExampleError"),
    "java": (BUILD / "examples" / "java", CAMEL, "example.ExampleError"),
    "dotnet": (BUILD / "examples" / "dotnet", CAMEL, "ExampleError"),
    "go": (BUILD / "examples" / "go", CAMEL, "ExampleError"),
    "provided": (EXAMPLES / "provided", CAMEL, "ExampleError"),
}


def example(fns, lang, **overrides):
    """Creates the example function of lang from its image's manifest; returns (name,
    manifest)."""
    src, _, _ = LANGUAGES[lang]
    if not (src / "lamina.json").exists():
        pytest.fail(f"{src} is missing: run `make BUILD={BUILD.name} lang-runtimes` first", pytrace=False)
    code = Path(tempfile.mkdtemp(prefix=f"ex-{lang}-", dir=fns.root))
    shutil.copytree(src, code, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    manifest = json.loads((src / "lamina.json").read_text())
    params = dict(runtime=manifest["Runtime"], handler=manifest["Handler"],
                  memory=manifest.get("MemorySize", 128), timeout=manifest.get("Timeout", 3))
    params.update(overrides)
    name = fns.create(code_dir=code, name=fns.name(lang), **params)
    return name, params


def check_report(r, memory, cold):
    rep = r["Report"]
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r
    assert rep["MemorySizeMB"] == memory, r
    assert rep["BilledDurationMs"] >= 1, r
    if cold:
        assert rep.get("InitDurationMs", 0) > 0, f"a cold start without InitDurationMs: {r}"
    else:
        assert "InitDurationMs" not in rep, f"a warm invocation with InitDurationMs: {r}"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_example_echoes_event_and_context_cold_and_warm(daemon, fns, client, lang):
    name, params = example(fns, lang)
    keys = LANGUAGES[lang][1]
    results = [client.invoke(name, PAYLOAD) for _ in range(3)]
    for i, r in enumerate(results):
        check_report(r, params["memory"], cold=(i == 0))
        p = r["Payload"]
        assert p["event"] == PAYLOAD, f"{lang}: the event came back changed: {p}"
        ctx = p["context"]
        assert ctx[keys["request"]] == r["RequestId"], (ctx, r["RequestId"])
        assert ctx[keys["name"]] == name and ctx[keys["version"]] == "$LATEST", ctx
        assert ctx[keys["arn"]] == ARN_PREFIX + name, ctx
        assert str(ctx[keys["memory"]]) == str(params["memory"]), ctx
        assert ctx[keys["group"]] == f"/aws/lambda/{name}", ctx
        assert ctx[keys["stream"]] and ctx[keys["stream"]] == results[0]["Payload"]["context"][keys["stream"]], ctx
        left = ctx[keys["left"]]
        assert 0 < left <= params["timeout"] * 1000, f"{lang}: remaining time {left} ms of a {params['timeout']} s timeout"
        # one instance served them all, in order
        assert p["invocations"] == i + 1, f"{lang}: invocation {i} ran in a fresh instance: {p}"
    assert len({r["RequestId"] for r in results}) == 3
    # the function's own log lines are tagged with their request
    rid = results[1]["RequestId"]
    events = get_logs(daemon, name, request_id=rid,
                      want=lambda evs: any(e["Message"].startswith("REPORT") for e in evs))
    assert any(f"handling request {rid}" in e["Message"] for e in events), events


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_example_error_is_unhandled_with_lambdas_shape(fns, client, lang):
    name, params = example(fns, lang)
    error_type = LANGUAGES[lang][2]
    r = client.invoke(name, {"error": f"boom in {lang}"})
    assert r["FunctionError"] == "Unhandled", r
    p = r["Payload"]
    assert p["errorType"] == error_type, p
    assert p["errorMessage"] == f"boom in {lang}", p
    assert isinstance(p["stackTrace"], list), p
    if lang in ("python", "nodejs", "java", "dotnet"):
        assert p["stackTrace"], f"{lang}: an exception without its stack trace: {p}"
    # the instance survives its handler's exception
    r2 = client.invoke(name, {"after": True})
    check_report(r2, params["memory"], cold=False)
    assert r2["Payload"]["event"] == {"after": True}, r2


def test_runtimes_are_listed_and_unknown_refused(fns, client):
    code = make_code_dir(fns.root, {"bootstrap": ("#!/bin/sh\nexit 1\n", 0o755)})
    err = client.err("CreateFunction", "InvalidParameterValueException", FunctionName=fns.name("bad"),
                     Runtime="java8", Handler="x", Code={"Directory": str(code)})
    for rt in ("python3.11", "nodejs20.x", "java17", "dotnet", "go", "provided"):
        assert rt in err["message"], err


# ---------------------------------------------------------------- java17


def test_java_event_as_string_or_map(fns, client):
    """example.Echo::text takes a String: the event's JSON text (a JSON string's value);
    example.Echo::handleRequest takes a Map."""
    name, _ = example(fns, "java", handler="example.Echo::text")
    r = client.invoke(name, {"a": [1, "x"], "b": None})
    assert "FunctionError" not in r, r
    assert json.loads(r["Payload"]["text"]) == {"a": [1, "x"], "b": None}, r
    assert r["Payload"]["context"]["awsRequestId"] == r["RequestId"], r
    r = client.invoke(name, "just a string ☃")
    assert r["Payload"]["text"] == "just a string ☃" and r["Payload"]["length"] == 15, r
    r = client.invoke(name, [1, 2])
    assert r["Payload"]["text"] == "[1,2]", r
    name2, _ = example(fns, "java")
    r = client.invoke(name2, {"k": {"nested": [1.5, "v"]}})
    assert r["Payload"]["event"] == {"k": {"nested": [1.5, "v"]}}, r
    # a Map handler given something that is not an object: Lambda's unmarshal error
    r = client.invoke(name2, [1, 2])
    assert r["FunctionError"] == "Unhandled" and r["Payload"]["errorType"] == "Runtime.UnmarshalError", r


def test_java_request_handler_with_typed_event_and_result(fns, client):
    name, _ = example(fns, "java", handler="example.Typed")
    r = client.invoke(name, {"item": "tea", "quantity": 2, "prices": [1.25, 2], "unknown": "ignored"})
    assert "FunctionError" not in r, r
    assert r["Payload"] == {"item": "tea", "quantity": 2, "total": 6.5, "requestId": r["RequestId"]}, r
    r = client.invoke(name, {"item": "tea", "quantity": -1})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "java.lang.IllegalArgumentException", r
    assert r["Payload"]["errorMessage"] == "quantity must not be negative", r
    assert any("example.Typed.handleRequest(Typed.java:" in f for f in r["Payload"]["stackTrace"]), r


JAVA_CLASSES_DIR_HANDLER = """
package hello;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.List;
import java.util.Map;

public class Handler {
    static int calls;

    public static Object handleRequest(Map<String, Object> event, Context context) {
        calls++;
        context.getLogger().log("hello from a classes directory\\n");
        if (event.containsKey("cause")) {
            throw new IllegalStateException("outer", new UnsupportedOperationException("inner"));
        }
        return List.of(event.get("who"), calls, context.getRemainingTimeInMillis() > 0,
                       context.getMemoryLimitInMB(), context.getLogStreamName() != null);
    }
}
"""


def test_java_classes_directory_default_method_and_cause(fns, client, workdir):
    """A classes directory (no jar) on the class path, `package.Class` meaning
    handleRequest, a static method; a nested exception's cause is reported."""
    javac = JAVAC
    if not javac or not JAVA_RUNTIME_JAR.exists():
        pytest.fail("javac or the java17 runtime jar is missing (make lang-runtimes)", pytrace=False)
    src = make_code_dir(workdir, {"hello/Handler.java": JAVA_CLASSES_DIR_HANDLER})
    code = make_code_dir(workdir, {})
    subprocess.run([javac, "-cp", str(JAVA_RUNTIME_JAR), "-d", str(code), str(src / "hello" / "Handler.java")],
                   check=True, timeout=120)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    name = fns.create(code_dir=code, runtime="java17", handler="hello.Handler", memory=256, timeout=3)
    r = client.invoke(name, {"who": "classes"})
    assert r["Payload"] == ["classes", 1, True, 256, True], r
    r = client.invoke(name, {"who": "again"})
    assert r["Payload"][:2] == ["again", 2], r
    r = client.invoke(name, {"cause": 1})
    assert r["FunctionError"] == "Unhandled", r
    p = r["Payload"]
    assert p["errorType"] == "java.lang.IllegalStateException" and p["errorMessage"] == "outer", p
    assert p["cause"]["errorType"] == "java.lang.UnsupportedOperationException", p
    assert p["cause"]["errorMessage"] == "inner", p


@pytest.mark.parametrize("lang,handler,error_type", [
    ("java", "example.NoSuchClass::handleRequest", "java.lang.ClassNotFoundException"),
    ("java", "example.Echo::noSuchMethod", "Runtime.HandlerNotFound"),
    ("java", "example.Echo::", "Runtime.MalformedHandlerName"),
    ("dotnet", "Nope::Example.Echo::Handle", "Runtime.ImportModuleError"),
    ("dotnet", "Example::Example.Nope::Handle", "Runtime.HandlerNotFound"),
    ("dotnet", "Example::Example.Echo::Nope", "Runtime.HandlerNotFound"),
    ("dotnet", "Example.Echo::Handle", "Runtime.MalformedHandlerName"),
])
def test_compiled_language_bad_handler_is_an_init_error(fns, client, lang, handler, error_type):
    name, _ = example(fns, lang, handler=handler)
    r = client.invoke(name, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == error_type, r


def test_java_heap_fits_the_memory_size(fns, client):
    """The JVM is sized to MemorySize: a 128 MB function that keeps 40 MB live and makes
    garbage works, warm, invocation after invocation (the instance is not OOM-killed)."""
    code = make_code_dir(fns.root, {})
    src = make_code_dir(fns.root, {"mem/Alloc.java": """
        package mem;
        import java.util.ArrayList;
        import java.util.List;
        import java.util.Map;
        public class Alloc {
            static final List<byte[]> kept = new ArrayList<>();
            public int handleRequest(Map<String, Object> event) {
                if (kept.size() < 10) kept.add(new byte[4 << 20]);
                byte[] garbage = null;
                for (int i = 0; i < 5; i++) garbage = new byte[4 << 20];
                return kept.size() + garbage.length * 0;
            }
        }
    """})
    if not JAVAC:
        pytest.fail("the JDK 17 javac is missing", pytrace=False)
    subprocess.run([JAVAC, "-d", str(code), str(src / "mem" / "Alloc.java")], check=True, timeout=120)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    name = fns.create(code_dir=code, runtime="java17", handler="mem.Alloc", memory=128, timeout=5)
    for i in range(12):
        r = client.invoke(name, {}, timeout=30)
        assert "FunctionError" not in r, r
    assert r["Payload"] == 10, r
    assert "InitDurationMs" not in r["Report"], "the instance was replaced (killed?)"


# ---------------------------------------------------------------- dotnet


def test_dotnet_event_as_string_or_object(fns, client):
    name, _ = example(fns, "dotnet", handler="Example::Example.Echo::Text")
    r = client.invoke(name, {"a": [1, "x"]})
    assert "FunctionError" not in r, r
    assert json.loads(r["Payload"]["text"]) == {"a": [1, "x"]}, r
    r = client.invoke(name, "plain ☃")
    assert r["Payload"]["text"] == "plain ☃", r
    name2, _ = example(fns, "dotnet", handler="Example::Example.Echo::Typed")
    r = client.invoke(name2, {"item": "tea", "quantity": 3, "prices": [0.5, 1]})
    assert "FunctionError" not in r, r
    assert r["Payload"] == {"Item": "tea", "Quantity": 3, "Total": 4.5, "RequestId": r["RequestId"]}, r


DOTNET_CORE_DLL = REPO / "images" / "runtimes" / "dotnet" / "Amazon.Lambda.Core.dll"
DOTNET_OUTPUT_HANDLER = """
using System;
using Amazon.Lambda.Core;

namespace Out
{
    public class Fn
    {
        public Fn() { Console.WriteLine("init via Console"); }

        public string Handle(string input, ILambdaContext context)
        {
            Console.WriteLine("one: Console");
            context.Logger.LogLine("two: context.Logger ☃");
            LambdaLogger.Log("three: LambdaLogger\\n");
            Console.Out.Write("four: Console.Out\\n");
            Console.Error.WriteLine("five: Console.Error");
            return "done";
        }
    }
}
"""


def dotnet_function(fns, workdir, source, assembly, handler):
    """Compiles source (C#) to assembly.dll against lamina's Amazon.Lambda.Core and
    creates a dotnet function of it; returns its name."""
    if not shutil.which("mcs") or not DOTNET_CORE_DLL.exists():
        pytest.fail("mcs or Amazon.Lambda.Core.dll is missing (make lang-runtimes)", pytrace=False)
    src = make_code_dir(workdir, {"Fn.cs": source})
    code = make_code_dir(workdir, {})
    subprocess.run(["mcs", "-nologo", "-target:library", f"-r:{DOTNET_CORE_DLL}", f"-out:{code}/{assembly}.dll",
                    str(src / "Fn.cs")], check=True, timeout=120)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    return fns.create(code_dir=code, runtime="dotnet", handler=handler, timeout=5)


def test_dotnet_console_and_lambda_logger_lines_keep_their_order(daemon, fns, client, workdir):
    """The runtime's loggers write stdout directly (not through Console, which Mono sets
    up at its first use): mixed with a handler's Console output, each line is kept, in
    order, and tagged with its invocation."""
    name = dotnet_function(fns, workdir, DOTNET_OUTPUT_HANDLER, "Out", "Out::Out.Fn::Handle")
    for _ in range(2):
        r = client.invoke(name, "x")
        assert r["Payload"] == "done", r
        rid = r["RequestId"]
        events = get_logs(daemon, name, request_id=rid,
                          want=lambda evs: any(e["Message"].startswith("REPORT") for e in evs))
        lines = [e["Message"] for e in events]
        stdout = [m for m in lines if m.split(":")[0] in ("one", "two", "three", "four")]
        assert stdout == ["one: Console", "two: context.Logger ☃", "three: LambdaLogger",
                          "four: Console.Out"], lines
        assert "five: Console.Error" in lines, lines
    everything = [e["Message"] for e in get_logs(daemon, name)]
    assert "init via Console" in everything, everything


DOTNET_TRACE_HANDLER = """
using System;
using Amazon.Lambda.Core;

namespace Trace
{
    public static class Fn
    {
        public static string Handle(ILambdaContext context)
        {
            return Environment.GetEnvironmentVariable("_X_AMZN_TRACE_ID") + " " + context.AwsRequestId;
        }
    }
}
"""


def test_dotnet_trace_id_is_in_the_environment_of_each_invocation(fns, client, workdir):
    """As on Lambda, _X_AMZN_TRACE_ID holds the invocation's trace header, a new one each
    time, as the handler reads it with Environment.GetEnvironmentVariable."""
    name = dotnet_function(fns, workdir, DOTNET_TRACE_HANDLER, "Trace", "Trace::Trace.Fn::Handle")
    traces = set()
    for _ in range(2):
        r = client.invoke(name, {})
        assert "FunctionError" not in r, r
        trace, rid = r["Payload"].split(" ")
        assert rid == r["RequestId"], r
        assert trace.startswith("Root=1-") and ";Parent=" in trace, r
        traces.add(trace)
    assert len(traces) == 2, traces


# ---------------------------------------------------------------- go


def test_go_panic_is_unhandled_with_its_stack(fns, client):
    name, params = example(fns, "go")
    r = client.invoke(name, {"panic": "oh no"})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorMessage"] == "oh no" and r["Payload"]["errorType"] == "string", r
    assert any("main.handler" in f for f in r["Payload"]["stackTrace"]), r
    r = client.invoke(name, {"after": "panic"})
    check_report(r, params["memory"], cold=False)
