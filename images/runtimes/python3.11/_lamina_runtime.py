"""lamina's Python 3.11 runtime: AWS Lambda's Python runtime semantics.

Started by laminad as `python3 /var/runtime/bootstrap.py`, a stub that imports this module
(so that its byte code comes from __pycache__ instead of being compiled at every cold start:
compiling this file costs ~8 ms, more than everything else the runtime does). It loads the
handler named by `_HANDLER` (`module.function`, module relative to LAMBDA_TASK_ROOT) once,
then loops over the Lambda Runtime API: GET the next event, call `handler(event, context)`,
POST the JSON-serialised result (or the error) back.

Transport: the Runtime API is spoken over an inherited, already-connected stream socket when
LAMINA_RUNTIME_FD is set (one persistent HTTP/1.1 connection, plain read()/write() on the
fd), else over TCP to AWS_LAMBDA_RUNTIME_API (host:port).

Cold start matters more than anything here, so this file imports nothing at start-up but
C built-ins: no http.client (it pulls in email.*, ~20 ms), no socket.py, no json package
(its decoder pulls in `re`), no traceback. JSON goes through the `_json` C accelerator
directly with exactly `json.loads`/`json.dumps`'s default behaviour; `traceback` and
`logging` set-up are imported only when needed (an error; the user importing logging).
"""

import sys
import os

_environ = os.environ

# ---------------------------------------------------------------------------------------
# stdout/stderr: line-buffered so handler prints reach the function's log promptly.
# ---------------------------------------------------------------------------------------
for _stream in (sys.stdout, sys.stderr):
    try:
        _stream.reconfigure(line_buffering=True)
    except Exception:  # a closed or odd stream: nothing to do
        pass


def _flush_std():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------------------------------
# JSON: json.loads / json.dumps(obj) semantics on top of the _json C accelerator.
# ---------------------------------------------------------------------------------------
class _DecimalAware:
    """The `default` hook: Decimal (as boto3's DynamoDB types produce) becomes a number,
    anything else non-serialisable raises TypeError exactly like json.dumps."""

    __slots__ = ()

    def __call__(self, o):
        if type(o).__name__ == "Decimal" and type(o).__module__ == "decimal":
            if o.is_finite():
                i = int(o)
                return i if i == o else float(o)
            return float(o)
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


_json_default = _DecimalAware()


def _make_codec():
    try:
        import _json

        class _Ctx:
            pass

        ctx = _Ctx()
        ctx.strict = True
        ctx.object_hook = None
        ctx.object_pairs_hook = None
        ctx.parse_float = float
        ctx.parse_int = int
        ctx.parse_constant = {
            "-Infinity": float("-inf"),
            "Infinity": float("inf"),
            "NaN": float("nan"),
        }.__getitem__
        ctx.memo = {}
        scan = _json.make_scanner(ctx)
        make_encoder = _json.make_encoder
        esc = _json.encode_basestring_ascii
        ws = " \t\n\r"

        def loads(s):
            if isinstance(s, (bytes, bytearray)):
                s = s.decode("utf-8", "surrogatepass")
            n = len(s)
            i = n - len(s.lstrip(ws))
            try:
                obj, end = scan(s, i)
            except StopIteration:
                obj = end = None
            if end is None or (end != n and s[end:].strip(ws)):
                import json  # error path only: let json produce its exact error

                return json.loads(s)
            return obj

        def dumps(o):
            if isinstance(o, str):
                return esc(o)
            enc = make_encoder({}, _json_default, esc, None, ": ", ", ", False, False, True)
            return "".join(enc(o, 0))

        probe = {"a": [1, 2.5, "x\u00e9", None, True, False], "b": {}}
        if dumps(probe) != '{"a": [1, 2.5, "x\\u00e9", null, true, false], "b": {}}':
            raise ValueError("_json encoder mismatch")
        if loads(' {"a": [1, 2.5, "x\\u00e9", null, true, false], "b": {}} ') != probe:
            raise ValueError("_json scanner mismatch")
        return loads, dumps
    except Exception:
        import json

        return json.loads, (lambda o: json.dumps(o, default=_json_default))


_loads, _dumps = _make_codec()


# ---------------------------------------------------------------------------------------
# Runtime API client: a minimal HTTP/1.1 client on one persistent connection.
# ---------------------------------------------------------------------------------------
class _Closed(Exception):
    """The Runtime API connection is gone: the instance is being shut down."""


class _RuntimeClient:
    __slots__ = ("fd", "addr", "buf", "host", "sock", "closing")

    def __init__(self):
        self.buf = bytearray()
        self.sock = None
        self.closing = False
        fd = _environ.get("LAMINA_RUNTIME_FD")
        if fd:
            self.fd = int(fd)
            self.addr = None
            self.host = b"lamina"
        else:
            api = _environ.get("AWS_LAMBDA_RUNTIME_API")
            if not api:
                sys.stderr.write(
                    "lamina bootstrap: neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set\n"
                )
                sys.exit(2)
            host, _, port = api.rpartition(":")
            if not host:
                host, port = port, "80"
            self.addr = (host.strip("[]"), int(port))
            self.host = api.encode("latin-1")
            self.fd = -1
            self._connect()
        try:
            # Blocking I/O (the daemon may have created the pair non-blocking), and not
            # inherited by anything the handler spawns.
            os.set_blocking(self.fd, True)
            os.set_inheritable(self.fd, False)
        except OSError:
            pass

    def _connect(self):
        import _socket

        host, port = self.addr
        family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
        s = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            s.close()
            raise
        self.sock = s  # keeps the fd open; we do plain os.read/os.write on it
        self.fd = s.fileno()
        self.buf = bytearray()
        self.closing = False

    def _reset(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.fd = -1

    def _fill(self, want=0):
        try:
            chunk = os.read(self.fd, want if want > 65536 else 65536)
        except OSError as e:
            raise _Closed(str(e))
        if not chunk:
            raise _Closed("connection closed")
        self.buf += chunk

    def request(self, method, path, body=b"", headers=b""):
        """One request/response exchange. Returns (status, {lower-name: value}, body)."""
        if self.addr is not None and (self.fd < 0 or self.closing):
            self._reset()
            try:
                self._connect()
            except OSError as e:
                raise _Closed(str(e))
        msg = b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n" % (
            method,
            path,
            self.host,
            headers,
            len(body),
        )
        if body:
            msg += body if isinstance(body, bytes) else bytes(body)
        view = memoryview(msg)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as e:
            raise _Closed(str(e))
        return self._read_response()

    def _read_response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head = self.buf[:end].decode("latin-1")
        del self.buf[: end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise _Closed("malformed response status line: %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        else:
            length = int(headers.get("content-length", "0") or 0)
            while len(self.buf) < length:
                self._fill(length - len(self.buf))
            body = bytes(self.buf[:length])
            del self.buf[:length]
        if headers.get("connection", "").lower() == "close":
            # Over TCP, the next request reconnects; the inherited fd cannot be
            # re-established, so there the next request finds EOF and the loop ends.
            self.closing = True
        return status, headers, body

    def _read_chunked(self):
        out = []
        while True:
            while True:
                eol = self.buf.find(b"\r\n")
                if eol >= 0:
                    break
                self._fill()
            size = int(self.buf[:eol].split(b";", 1)[0].strip() or b"0", 16)
            del self.buf[: eol + 2]
            if size == 0:
                # trailers, up to an empty line
                while True:
                    while True:
                        eol = self.buf.find(b"\r\n")
                        if eol >= 0:
                            break
                        self._fill()
                    line = self.buf[:eol]
                    del self.buf[: eol + 2]
                    if not line:
                        return b"".join(out)
            while len(self.buf) < size + 2:
                self._fill(size + 2 - len(self.buf))
            out.append(bytes(self.buf[:size]))
            del self.buf[: size + 2]


_PREFIX = b"/2018-06-01/runtime"
_JSON_HDR = b"Content-Type: application/json\r\n"


# ---------------------------------------------------------------------------------------
# Lambda's context object.
# ---------------------------------------------------------------------------------------
class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, d=None):
        d = d if isinstance(d, dict) else {}
        self.cognito_identity_id = d.get("cognitoIdentityId")
        self.cognito_identity_pool_id = d.get("cognitoIdentityPoolId")

    def __repr__(self):
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )

    def __init__(self, d):
        for name in self.__slots__:
            setattr(self, name, d.get(name))

    def __repr__(self):
        return "Client(%s)" % ", ".join(f"{n}={getattr(self, n)}" for n in self.__slots__)


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, d):
        self.custom = d.get("custom")
        self.env = d.get("env")
        c = d.get("client")
        self.client = Client(c) if isinstance(c, dict) else None

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


_FN_NAME = _environ.get("AWS_LAMBDA_FUNCTION_NAME")
_FN_VERSION = _environ.get("AWS_LAMBDA_FUNCTION_VERSION")
_LOG_GROUP = _environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
_LOG_STREAM = _environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
try:
    _MEMORY = int(_environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
except ValueError:
    _MEMORY = 128

from time import time as _now  # noqa: E402  (time is a built-in, already loaded)


class LambdaContext:
    __slots__ = (
        "aws_request_id",
        "log_group_name",
        "log_stream_name",
        "function_name",
        "memory_limit_in_mb",
        "function_version",
        "invoked_function_arn",
        "client_context",
        "identity",
        "_epoch_deadline_time_in_ms",
    )

    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = _LOG_GROUP
        self.log_stream_name = _LOG_STREAM
        self.function_name = _FN_NAME
        self.memory_limit_in_mb = _MEMORY
        self.function_version = _FN_VERSION
        self.invoked_function_arn = arn
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        self.identity = CognitoIdentity(identity)
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(_now() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


# ---------------------------------------------------------------------------------------
# Errors: Lambda's shapes and log lines.
# ---------------------------------------------------------------------------------------
_THIS_FILE = os.path.abspath(__file__)
_RUNTIME_DIR = os.path.dirname(_THIS_FILE)
_RUNTIME_FILES = (_THIS_FILE, os.path.join(_RUNTIME_DIR, "bootstrap.py"))


def _format_tb(tb):
    """Lambda's stackTrace: traceback.format_list of the frames, runtime frames dropped."""
    if tb is None:
        return []
    import traceback

    frames = traceback.extract_tb(tb)
    i = 0
    while i < len(frames) and frames[i].filename in _RUNTIME_FILES:
        i += 1
    frames = frames[i:]
    # Frames of Python's import machinery are noise for the user, as on Lambda.
    frames = [f for f in frames if not f.filename.startswith("<frozen importlib")]
    return traceback.format_list(frames)


def _make_error(message, error_type, stack_trace, request_id=""):
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "Exception",
        "requestId": request_id or "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _error_from_exception(exc, request_id=""):
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    return _make_error(message, type(exc).__name__, _format_tb(exc.__traceback__), request_id)


def _log_error(err):
    desc = "[ERROR]"
    etype = err.get("errorType")
    emsg = err.get("errorMessage")
    if etype:
        desc += " " + etype
    if emsg:
        if etype:
            desc += ":"
        desc += " " + emsg
    lines = [desc]
    st = err.get("stackTrace")
    if st is not None:
        lines.append("Traceback (most recent call last):")
        for el in st:
            if el == "":
                lines.append("")
            else:
                lines.extend(el.splitlines())
    try:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _serialise_error(err):
    try:
        return _dumps(err).encode("utf-8")
    except Exception:
        return _dumps(
            _make_error(repr(err.get("errorMessage")), err.get("errorType"), [], err.get("requestId"))
        ).encode("utf-8")


# ---------------------------------------------------------------------------------------
# Logging: Lambda's root-logger handler, installed only if the user imports `logging`.
# ---------------------------------------------------------------------------------------
_CURRENT_REQUEST_ID = None


def _setup_logging(logging):
    import time

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
                sys.stdout.write(msg)
                sys.stdout.flush()
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _CURRENT_REQUEST_ID or ""
            return True

    handler = LambdaLoggerHandler()
    fmt = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = _environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        try:
            root.setLevel(level.upper())
        except (ValueError, TypeError):
            pass


class _LoggingHook:
    """A meta-path finder that lets `logging` import normally, then configures it."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(cls)
        except ValueError:
            pass
        machinery = sys.modules.get("_frozen_importlib_external")
        if machinery is None:
            return None
        spec = machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        orig_exec = loader.exec_module

        def exec_module(module):
            orig_exec(module)
            try:
                _setup_logging(module)
            except Exception:
                pass
            try:
                del loader.exec_module  # back to the class's method
            except AttributeError:
                pass

        loader.exec_module = exec_module
        return spec

    @classmethod
    def invalidate_caches(cls):
        pass


if "logging" in sys.modules:
    _setup_logging(sys.modules["logging"])
else:
    sys.meta_path.insert(0, _LoggingHook)


# ---------------------------------------------------------------------------------------
# Handler loading.
# ---------------------------------------------------------------------------------------
class _Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def _set_sys_path(task_root):
    here = _RUNTIME_DIR
    path = [p for p in sys.path if p not in (here, task_root)]
    front = [task_root, "/opt/python/lib/python3.11/site-packages", "/opt/python"]
    front = [p for p in front if p not in path]
    sys.path[:] = front + path + [here]


def _load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    if not modname or not fname:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}'")
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        # __import__ + sys.modules: importlib.import_module without importing importlib.
        __import__(modname)
        module = sys.modules[modname]
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {(e.text or "").strip()}\n']
        raise _Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{modname}': {e}",
            trace,
        )
    try:
        fn = getattr(module, fname)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{fname}' missing on module '{modname}'",
        )
    if not callable(fn):
        raise _Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{fname}' on module '{modname}' is not callable",
        )
    return fn


# ---------------------------------------------------------------------------------------
# The loop.
# ---------------------------------------------------------------------------------------
def _post_error(client, path, err, kind):
    body = _serialise_error(err)
    hdrs = _JSON_HDR + b"Lambda-Runtime-Function-Error-Type: " + kind + b"\r\n"
    return client.request(b"POST", path, body, hdrs)


def _invoke(client, handler, status, headers, body):
    global _CURRENT_REQUEST_ID
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _CURRENT_REQUEST_ID = request_id
    rid = request_id.encode("latin-1")
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        _environ["_X_AMZN_TRACE_ID"] = trace_id
    elif "_X_AMZN_TRACE_ID" in _environ:
        del _environ["_X_AMZN_TRACE_ID"]
    err_path = _PREFIX + b"/invocation/" + rid + b"/error"

    try:
        deadline = int(headers.get("lambda-runtime-deadline-ms") or 0)
    except ValueError:
        deadline = 0
    try:
        cc = headers.get("lambda-runtime-client-context")
        cc = _loads(cc) if cc else None
        ci = headers.get("lambda-runtime-cognito-identity")
        ci = _loads(ci) if ci else None
        event = _loads(body) if body else None
    except Exception as e:
        err = _make_error(f"Unable to unmarshal input: {e}", "Runtime.UnmarshalError", [], request_id)
        _log_error(err)
        _flush_std()
        _post_error(client, err_path, err, b"Unhandled")
        return
    context = LambdaContext(
        request_id, deadline, headers.get("lambda-runtime-invoked-function-arn"), cc, ci
    )

    try:
        result = handler(event, context)
    except Exception as e:  # raised: Unhandled
        err = _error_from_exception(e, request_id)
        _log_error(err)
        _flush_std()
        _post_error(client, err_path, err, b"Unhandled")
        return

    if isinstance(result, BaseException):  # returned: Handled
        err = _error_from_exception(result, request_id)
        _log_error(err)
        _flush_std()
        _post_error(client, err_path, err, b"Handled")
        return

    try:
        out = _dumps(result).encode("utf-8", "surrogatepass")
    except Exception as e:
        err = _make_error(f"Unable to marshal response: {e}", "Runtime.MarshalError", [], request_id)
        _log_error(err)
        _flush_std()
        _post_error(client, err_path, err, b"Unhandled")
        return
    result = None
    _flush_std()
    client.request(b"POST", _PREFIX + b"/invocation/" + rid + b"/response", out, _JSON_HDR)


def main():
    client = _RuntimeClient()
    task_root = _environ.get("LAMBDA_TASK_ROOT", "/var/task")
    _set_sys_path(task_root)

    handler_name = _environ.get("_HANDLER", "")
    try:
        handler = _load_handler(handler_name)
    except _Fault as f:
        err = _make_error(f.message, f.error_type, f.trace)
    except Exception as e:  # an exception raised by module-level code
        err = _error_from_exception(e)
    else:
        err = None
    if err is not None:
        _log_error(err)
        _flush_std()
        try:
            _post_error(client, _PREFIX + b"/init/error", err, b"Unhandled")
        except _Closed:
            pass
        sys.exit(1)

    next_path = _PREFIX + b"/invocation/next"
    request = client.request
    while True:
        try:
            status, headers, body = request(b"GET", next_path)
        except _Closed:
            break
        if status != 200:
            sys.stderr.write(f"lamina bootstrap: /invocation/next returned {status}: {body[:200]!r}\n")
            _flush_std()
            os._exit(1)
        try:
            _invoke(client, handler, status, headers, body)
        except _Closed:
            break
    _flush_std()
    # The connection is gone: the daemon is done with this instance. (As on Lambda, where
    # the instance is simply killed, interpreter shutdown and atexit hooks are skipped.)
    os._exit(0)

