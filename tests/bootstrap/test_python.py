"""The python3.11 bootstrap against a fake Runtime API."""

import json
import time

import pytest

from conftest import EXAMPLES, MODES
from fakeapi import Event

ARN = "arn:aws:lambda:local:000000000000:function:fn"


def ok_json(run, ev):
    kind, req = run.result(ev)
    assert kind == "response", (req, run.stderr)
    return req.json()


@pytest.mark.parametrize("mode", MODES)
def test_example_echo_and_context(mode, task_dir, run_python):
    root = task_dir(copy_of=EXAMPLES / "python")
    payloads = [{"a": 1, "nested": {"x": [1, 2.5, None, True]}}, [1, 2, 3], "just a string"]
    events = [Event(p, timeout_ms=3000 + i * 1000) for i, p in enumerate(payloads)]
    t0 = int(time.time() * 1000)
    run = run_python(root, "app.handler", events, mode)
    assert run.returncode == 0, run.stderr

    pids = set()
    for i, (ev, payload) in enumerate(zip(events, payloads)):
        out = ok_json(run, ev)
        assert out["event"] == payload
        ctx = out["context"]
        assert ctx["aws_request_id"] == ev.request_id
        assert ctx["invoked_function_arn"] == ARN
        assert ctx["function_name"] == "fn"
        assert ctx["function_version"] == "$LATEST"
        assert ctx["memory_limit_in_mb"] == 256 and isinstance(ctx["memory_limit_in_mb"], int)
        assert ctx["log_group_name"] == "/aws/lambda/fn"
        assert ctx["log_stream_name"] == "2024/01/01/[$LATEST]0123456789abcdef"
        remaining = ctx["remaining_time_in_millis"]
        assert 0 < remaining <= ev.deadline_ms - t0
        assert remaining <= ev.timeout_ms
        assert out["invocations"] == i + 1  # module state survives: one init
        pids.add(out["init_pid"])
        assert f"handling request {ev.request_id}" in run.stdout
    assert len(pids) == 1
    assert run.stdout.count("init: python example loaded") == 1
    # The protocol as sent: one GET per event (+ the final one that found the API gone).
    gets = [r for r in run.api.requests if r.method == "GET"]
    assert len(gets) == len(events) + 1
    posts = [r for r in run.api.requests if r.method == "POST"]
    assert all(r.headers["content-length"] == str(len(r.body)) for r in posts)
    assert not run.api.init_errors()


def test_response_is_json_dumps(task_dir, run_python):
    root = task_dir({"app.py": (
        "import decimal\n"
        "def handler(event, context):\n"
        "    return {'echo': event, 'uni': 'h\\u00e9llo \\u2603', 'f': 0.1, 'big': 2**70,\n"
        "            'dec': decimal.Decimal('1.5'), 'deci': decimal.Decimal('10'),\n"
        "            't': (1, 2), 'none': None}\n"
    )})
    payload = {"k": ["\u00e9", 1e100, -0.0, 12345678901234567890]}
    ev = Event(payload)
    run = run_python(root, "app.handler", [ev])
    kind, req = run.result(ev)
    assert kind == "response"
    expect = {"echo": payload, "uni": "h\u00e9llo \u2603", "f": 0.1, "big": 2**70,
              "dec": 1.5, "deci": 10, "t": [1, 2], "none": None}
    assert req.body.decode() == json.dumps(expect)


@pytest.mark.parametrize("returned,body", [("None", b"null"), ("'s'", b'"s"'), ("[]", b"[]"),
                                           ("float('nan')", b"NaN"), ("True", b"true")])
def test_scalar_results(returned, body, task_dir, run_python):
    root = task_dir({"app.py": f"def handler(e, c):\n    return {returned}\n"})
    ev = Event({})
    run = run_python(root, "app.handler", [ev])
    kind, req = run.result(ev)
    assert (kind, req.body) == ("response", body)


def test_unhandled_error_example(task_dir, run_python):
    root = task_dir(copy_of=EXAMPLES / "python-error")
    ev = Event({"amount": 5})
    run = run_python(root, "app.handler", [ev])
    assert run.returncode == 0
    kind, req = run.result(ev)
    assert kind == "error"
    assert req.headers["lambda-runtime-function-error-type"] == "Unhandled"
    err = req.json()
    assert err["errorType"] == "InsufficientFunds"
    assert err["errorMessage"] == "balance too low for 5"
    assert err["requestId"] == ev.request_id
    st = err["stackTrace"]
    assert isinstance(st, list) and len(st) == 2 and all(isinstance(s, str) for s in st)
    assert st[0].startswith(f'  File "{root}/app.py", line ') and ", in handler\n" in st[0]
    assert ", in _check\n" in st[1] and "raise InsufficientFunds" in st[1]
    assert "_lamina_runtime" not in "".join(st) and "bootstrap.py" not in "".join(st)
    assert "[ERROR] InsufficientFunds: balance too low for 5" in run.stderr
    assert "Traceback (most recent call last):" in run.stderr


def test_handled_error_example(task_dir, run_python):
    root = task_dir(copy_of=EXAMPLES / "python-error")
    ev = Event({"handled": True, "reason": "nope"})
    ok = Event({"amount": 1})
    run = run_python(root, "app.handler", [ev, ok])
    kind, req = run.result(ev)
    assert kind == "error"
    assert req.headers["lambda-runtime-function-error-type"] == "Handled"
    err = req.json()
    assert (err["errorType"], err["errorMessage"], err["stackTrace"]) == ("ValueError", "rejected: nope", [])
    # the instance goes on serving after errors
    assert run.result(ok)[0] == "error"
    assert run.result(ok)[1].headers["lambda-runtime-function-error-type"] == "Unhandled"


def test_marshal_error(task_dir, run_python):
    root = task_dir({"app.py": "def handler(e, c):\n    return {'s': {1, 2}}\n"})
    ev = Event({})
    run = run_python(root, "app.handler", [ev])
    kind, req = run.result(ev)
    assert kind == "error"
    assert req.headers["lambda-runtime-function-error-type"] == "Unhandled"
    err = req.json()
    assert err["errorType"] == "Runtime.MarshalError"
    assert err["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


INIT_ERRORS = [
    ({}, "nomod.handler", "Runtime.ImportModuleError",
     "Unable to import module 'nomod': No module named 'nomod'"),
    ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound",
     "Handler 'handler' missing on module 'app'"),
    ({"app.py": "def handler(:\n    pass\n"}, "app.handler", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'app': "),
    ({"app.py": "import no_such_package_xyz\n"}, "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'no_such_package_xyz'"),
    ({"app.py": "raise RuntimeError('boom at import')\n"}, "app.handler", "RuntimeError",
     "boom at import"),
    ({"app.py": "def handler(e, c): pass\n"}, "app", "Runtime.MalformedHandlerName", "Bad handler 'app'"),
    ({"app.py": "handler = 42\n"}, "app.handler", "Runtime.HandlerNotFound", "not callable"),
]


@pytest.mark.parametrize("files,handler,etype,msg", INIT_ERRORS,
                         ids=["missing-module", "missing-function", "syntax-error", "import-inside",
                              "raise-at-import", "malformed", "not-callable"])
def test_init_errors(files, handler, etype, msg, task_dir, run_python):
    root = task_dir(files)
    run = run_python(root, handler, [Event({})])
    assert run.returncode != 0
    errs = run.api.init_errors()
    assert len(errs) == 1, run.api.requests
    assert errs[0].headers["lambda-runtime-function-error-type"] == "Unhandled"
    err = errs[0].json()
    assert err["errorType"] == etype
    assert msg in err["errorMessage"]
    assert isinstance(err["stackTrace"], list)
    assert not [r for r in run.api.requests if r.method == "GET"]  # never asked for work
    assert f"[ERROR] {etype}" in run.stderr
    if etype == "Runtime.UserCodeSyntaxError":
        assert "app.py" in err["stackTrace"][0] and "Line 1" in err["stackTrace"][0]
    if etype == "RuntimeError":
        assert "app.py" in "".join(err["stackTrace"])


def test_packages_and_sys_path(task_dir, run_python):
    root = task_dir({
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": "import helper\ndef handler(e, c):\n    return helper.VALUE + e\n",
        "helper.py": "VALUE = 40\n",
    })
    for handler in ("pkg.sub.mod.handler", "pkg/sub/mod.handler"):
        ev = Event(2)
        run = run_python(root, handler, [ev])
        assert run.result(ev)[1].body == b"42", run.stderr


def test_logging_like_lambda(task_dir, run_python):
    root = task_dir({"app.py": (
        "import logging\n"
        "logger = logging.getLogger()\n"
        "logger.setLevel(logging.INFO)\n"
        "def handler(e, c):\n"
        "    logger.info('hello %s', 'world')\n"
        "    print('plain print')\n"
        "    return 1\n"
    )})
    ev = Event({})
    run = run_python(root, "app.handler", [ev])
    assert run.result(ev)[0] == "response"
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("[INFO]")]
    assert len(lines) == 1, run.stdout
    level, ts, rid, msg = lines[0].split("\t")
    assert (level, rid, msg) == ("[INFO]", ev.request_id, "hello world")
    assert ts.endswith("Z") and ts[4] == "-" and ts[10] == "T"
    assert "plain print\n" in run.stdout


def test_client_context_identity_and_trace(task_dir, run_python):
    root = task_dir({"app.py": (
        "import os\n"
        "def handler(e, c):\n"
        "    return {'custom': c.client_context.custom, 'app': c.client_context.client.app_title,\n"
        "            'cid': c.identity.cognito_identity_id, 'pool': c.identity.cognito_identity_pool_id,\n"
        "            'trace': os.environ.get('_X_AMZN_TRACE_ID')}\n"
    )})
    cc = {"custom": {"k": "v"}, "client": {"app_title": "demo"}, "env": {}}
    ci = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    ev = Event({}, headers={"Lambda-Runtime-Client-Context": json.dumps(cc),
                            "Lambda-Runtime-Cognito-Identity": json.dumps(ci)})
    run = run_python(root, "app.handler", [ev])
    out = ok_json(run, ev)
    assert out == {"custom": {"k": "v"}, "app": "demo", "cid": "id-1", "pool": "pool-1",
                   "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}


def test_identity_absent_and_no_client_context(task_dir, run_python):
    root = task_dir({"app.py": (
        "def handler(e, c):\n"
        "    return [c.client_context is None, c.identity.cognito_identity_id]\n"
    )})
    ev = Event({})
    run = run_python(root, "app.handler", [ev])
    assert ok_json(run, ev) == [True, None]


def test_large_payload(task_dir, run_python):
    root = task_dir({"app.py": "def handler(e, c):\n    return e\n"})
    payload = {"data": "x" * (5 << 20)}
    ev = Event(payload)
    run = run_python(root, "app.handler", [ev])
    assert run.result(ev)[1].body == ev.body


def test_unmarshal_error(task_dir, run_python):
    root = task_dir({"app.py": "def handler(e, c):\n    return e\n"})
    bad = Event(None, raw=b"{not json")
    good = Event([1])
    run = run_python(root, "app.handler", [bad, good])
    kind, req = run.result(bad)
    assert kind == "error" and req.json()["errorType"] == "Runtime.UnmarshalError"
    assert run.result(good)[1].body == b"[1]"
