"""The nodejs20.x bootstrap against a fake Runtime API."""

import json
import re
import time

import pytest

from conftest import EXAMPLES, MODES
from fakeapi import Event

ARN = "arn:aws:lambda:local:000000000000:function:fn"

ECHO_BODY = "return {event, rid: context.awsRequestId, n: ++count, pid: process.pid};"
CJS_ECHO = f"let count = 0;\nexports.handler = async (event, context) => {{ {ECHO_BODY} }};\n"
ESM_ECHO = f"let count = 0;\nexport const handler = async (event, context) => {{ {ECHO_BODY} }};\n"


def result(run, ev):
    r = run.result(ev)
    assert r is not None, (run.api.requests, run.stdout, run.stderr)
    return r


def ok_json(run, ev):
    kind, req = result(run, ev)
    assert kind == "response", (req, run.stdout, run.stderr)
    return req.json()


def error_of(run, ev, handled):
    kind, req = result(run, ev)
    assert kind == "error", (req, run.stderr)
    assert req.headers["lambda-runtime-function-error-type"] == ("Handled" if handled else "Unhandled")
    err = req.json()
    assert isinstance(err["trace"], list) and err["trace"] == err["stackTrace"]
    return err


@pytest.mark.parametrize("mode", MODES)
def test_example_esm_echo_and_context(mode, task_dir, run_node):
    root = task_dir(copy_of=EXAMPLES / "nodejs")
    payloads = [{"a": 1, "b": [1, 2.5, None, True]}, [1, 2, 3], "a string"]
    events = [Event(p, timeout_ms=3000 + 1000 * i) for i, p in enumerate(payloads)]
    t0 = int(time.time() * 1000)
    run = run_node(root, "app.handler", events, mode)
    assert run.returncode == 0, run.stderr
    pids = set()
    for i, (ev, payload) in enumerate(zip(events, payloads)):
        out = ok_json(run, ev)
        assert out["event"] == payload
        ctx = out["context"]
        assert ctx["awsRequestId"] == ev.request_id
        assert ctx["invokedFunctionArn"] == ARN
        assert ctx["functionName"] == "fn"
        assert ctx["functionVersion"] == "$LATEST"
        assert ctx["memoryLimitInMB"] == "256"  # a string, as on Lambda
        assert ctx["logGroupName"] == "/aws/lambda/fn"
        assert ctx["logStreamName"] == "2024/01/01/[$LATEST]0123456789abcdef"
        assert 0 < ctx["remainingTimeInMillis"] <= ev.deadline_ms - t0
        assert out["invocations"] == i + 1
        pids.add(out["initPid"])
    assert len(pids) == 1
    # console.log as Lambda prints it: time, request id, level, message
    init_lines = [ln for ln in run.stdout.splitlines() if ln.endswith("init: nodejs example loaded")]
    assert len(init_lines) == 1
    assert init_lines[0].split("\t")[1:] == ["undefined", "INFO", "init: nodejs example loaded"]
    for ev in events:
        pat = rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{ev.request_id}\tINFO\thandling request {ev.request_id}$"
        assert re.search(pat, run.stdout, re.M), run.stdout
    assert len([r for r in run.api.requests if r.method == "GET"]) == len(events) + 1


@pytest.mark.parametrize("files,handler", [
    ({"app.js": CJS_ECHO}, "app.handler"),
    ({"app.cjs": CJS_ECHO}, "app.handler"),
    ({"app.mjs": ESM_ECHO}, "app.handler"),
    ({"app.js": ESM_ECHO, "package.json": '{"type": "module"}'}, "app.handler"),
    ({"src/lib/app.js": CJS_ECHO}, "src/lib/app.handler"),
    ({"src/app.mjs": ESM_ECHO}, "src/app.handler"),
    ({"app.js": "let count = 0;\nexports.api = {v1: {handler: async (event, context) => { "
               + ECHO_BODY + " }}};\n"}, "app.api.v1.handler"),
], ids=["cjs-js", "cjs-cjs", "esm-mjs", "esm-js-type-module", "nested-dir", "nested-dir-esm",
        "nested-export"])
def test_module_kinds(files, handler, task_dir, run_node):
    root = task_dir(files)
    events = [Event({"i": i}) for i in range(3)]
    run = run_node(root, handler, events)
    assert run.returncode == 0, run.stderr
    pids = set()
    for i, ev in enumerate(events):
        out = ok_json(run, ev)
        assert out["event"] == {"i": i} and out["rid"] == ev.request_id and out["n"] == i + 1
        pids.add(out["pid"])
    assert len(pids) == 1


def test_callback_example(task_dir, run_node):
    root = task_dir(copy_of=EXAMPLES / "nodejs-callback")
    ok = Event({"x": 1})
    handled = Event({"fail": True, "reason": "low balance"})
    thrown = Event({"throw": True})
    ok2 = Event({"x": 2})
    run = run_node(root, "index.handler", [ok, handled, thrown, ok2])
    assert run.returncode == 0, run.stderr
    assert ok_json(run, ok) == {"echo": {"x": 1}, "requestId": ok.request_id, "invocations": 1}
    err = error_of(run, handled, handled=True)
    assert (err["errorType"], err["errorMessage"]) == ("RangeError", "refused: low balance")
    assert err["trace"][0] == "RangeError: refused: low balance"
    assert any("index.js" in line for line in err["trace"])
    err = error_of(run, thrown, handled=False)
    assert (err["errorType"], err["errorMessage"]) == ("TypeError", "thrown from the handler")
    assert ok_json(run, ok2)["invocations"] == 4
    assert "\tERROR\tInvoke Error \t" in run.stdout


HANDLERS = {
    "async-reject": ("exports.handler = async () => { throw new SyntaxError('bad thing'); };",
                     False, "SyntaxError", "bad thing"),
    "promise-reject": ("exports.handler = () => Promise.reject(new Error('rejected'));",
                       False, "Error", "rejected"),
    "throw-string": ("exports.handler = () => { throw 'a string'; };", False, "string", "a string"),
    "callback-string": ("exports.handler = (e, c, cb) => cb('bad input');", True, "string", "bad input"),
    "context-fail": ("exports.handler = (e, c) => c.fail(new Error('via fail'));", True, "Error", "via fail"),
    "context-done-err": ("exports.handler = (e, c) => c.done(new Error('via done'));", True, "Error", "via done"),
    "custom-error": ("class MyErr extends Error { constructor(m) { super(m); this.name = 'MyErr'; } }\n"
                     "exports.handler = async () => { throw new MyErr('mine'); };", False, "MyErr", "mine"),
    "unstringifiable": ("exports.handler = async () => ({n: 10n});", False,
                        "Runtime.JSONStringifyError", "Unable to stringify response body"),
    "uncaught-in-timer": ("exports.handler = () => new Promise(() => { setTimeout(() => { "
                          "throw new Error('async boom'); }, 1); });", False, "Error", "async boom"),
    "unhandled-rejection": ("exports.handler = () => { Promise.reject(new Error('nobody caught')); "
                            "return new Promise((r) => setTimeout(r, 200)); };", False,
                            "Runtime.UnhandledPromiseRejection", "nobody caught"),
}


@pytest.mark.parametrize("name", list(HANDLERS))
def test_errors(name, task_dir, run_node):
    src, handled, etype, msg = HANDLERS[name]
    root = task_dir({"app.js": src})
    ev = Event({})
    run = run_node(root, "app.handler", [ev, Event({})])
    err = error_of(run, ev, handled)
    assert err["errorType"] == etype
    assert msg in err["errorMessage"]
    if name in ("uncaught-in-timer", "unhandled-rejection"):
        assert run.returncode in (128, 129)  # the instance dies, as on Lambda
        assert len(run.api.results()) == 1
    else:
        assert run.returncode == 0
        assert len(run.api.results()) == 2  # and otherwise keeps serving


RESULTS = {
    "callback-value": ("exports.handler = (e, c, cb) => { setTimeout(() => cb(null, {v: e}), 5); };", {"v": 7}),
    "callback-null": ("exports.handler = (e, c, cb) => cb(null);", None),
    "succeed": ("exports.handler = (e, c) => { c.succeed(['ok', e]); };", ["ok", 7]),
    "done": ("exports.handler = (e, c) => { c.done(null, 'fine'); };", "fine"),
    "async-undefined": ("exports.handler = async () => {};", None),
    "async-value": ("exports.handler = async (e) => e * 6;", 42),
    # A non-async handler that returns without calling back: Lambda answers null once the
    # event loop is empty (the return value is ignored).
    "sync-return-ignored": ("exports.handler = (e) => { setTimeout(() => {}, 20); return 'ignored'; };", None),
    "first-callback-wins": ("exports.handler = (e, c, cb) => { cb(null, 1); cb(null, 2); c.succeed(3); };", 1),
}


@pytest.mark.parametrize("name", list(RESULTS))
def test_results(name, task_dir, run_node):
    src, expected = RESULTS[name]
    root = task_dir({"app.js": src})
    ev = Event(7)
    run = run_node(root, "app.handler", [ev, Event(7)])
    assert ok_json(run, ev) == expected
    assert run.returncode == 0, run.stderr
    assert len(run.api.results()) == 2


INIT_ERRORS = {
    "missing-module": ({}, "nomod.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nomod'"),
    "missing-function": ({"app.js": "exports.other = () => 1;"}, "app.handler",
                         "Runtime.HandlerNotFound", "app.handler is undefined or not exported"),
    "not-a-function": ({"app.mjs": "export const handler = 5;"}, "app.handler",
                       "Runtime.HandlerNotFound", "app.handler is not a function"),
    "syntax-error-cjs": ({"app.js": "exports.handler = async (e) => { return {; };"}, "app.handler",
                         "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    "syntax-error-esm": ({"app.mjs": "export const handler = async (e) => { return {; };"}, "app.handler",
                         "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    "missing-dependency-esm": ({"app.mjs": "import x from 'no-such-pkg-xyz';\nexport const handler = () => x;"},
                               "app.handler", "Runtime.ImportModuleError", "no-such-pkg-xyz"),
    "throw-at-load": ({"app.js": "throw new RangeError('init failed');"}, "app.handler",
                      "RangeError", "init failed"),
    "uncaught-during-init": ({"app.mjs": "setTimeout(() => { throw new TypeError('timer at init'); }, 1);\n"
                                         "await new Promise((r) => setTimeout(r, 300));\n"
                                         "export const handler = async () => 1;"},
                             "app.handler", "TypeError", "timer at init"),
    "malformed": ({"app.js": "exports.handler = () => 1;"}, "app", "Runtime.MalformedHandlerName", "Bad handler"),
    "relative-path": ({"app.js": "exports.handler = () => 1;"}, "../app.handler",
                      "Runtime.MalformedHandlerName", "is not a valid handler name"),
}


@pytest.mark.parametrize("name", list(INIT_ERRORS))
def test_init_errors(name, task_dir, run_node):
    files, handler, etype, msg = INIT_ERRORS[name]
    root = task_dir(files)
    run = run_node(root, handler, [Event({})])
    assert run.returncode != 0
    errs = run.api.init_errors()
    assert len(errs) == 1, (run.api.requests, run.stdout, run.stderr)
    assert errs[0].headers["lambda-runtime-function-error-type"] == "Unhandled"
    err = errs[0].json()
    assert err["errorType"] == etype
    assert msg in err["errorMessage"]
    assert isinstance(err["trace"], list) and err["trace"] == err["stackTrace"]
    assert not [r for r in run.api.requests if r.method == "GET"]
    assert "\tundefined\tERROR\tUncaught Exception \t" in run.stdout


def test_context_extras(task_dir, run_node):
    root = task_dir({"app.mjs": (
        "export const handler = async (e, c) => ({cc: c.clientContext, id: c.identity,"
        " trace: process.env._X_AMZN_TRACE_ID, waits: c.callbackWaitsForEmptyEventLoop});"
    )})
    cc = {"custom": {"k": "v"}, "client": {"app_title": "demo"}}
    ci = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    ev = Event({}, headers={"Lambda-Runtime-Client-Context": json.dumps(cc),
                            "Lambda-Runtime-Cognito-Identity": json.dumps(ci)})
    plain = Event({})
    run = run_node(root, "app.handler", [ev, plain])
    assert ok_json(run, ev) == {"cc": cc, "id": ci, "waits": True,
                                "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
    out = ok_json(run, plain)
    assert "cc" not in out and "id" not in out


def test_large_payload_and_unicode(task_dir, run_node):
    root = task_dir({"app.js": "exports.handler = async (e) => e;"})
    big = Event({"data": "\u00e9\u2603x" * (1 << 20)})
    small = Event({"s": "h\u00e9llo"})
    run = run_node(root, "app.handler", [big, small])
    assert json.loads(result(run, big)[1].body) == {"data": "\u00e9\u2603x" * (1 << 20)}
    assert ok_json(run, small) == {"s": "h\u00e9llo"}
