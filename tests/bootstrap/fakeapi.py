"""A tiny fake AWS Lambda Runtime API server for the bootstrap tests.

It serves a fixed list of events, records every request it receives, and closes the
connection (and its TCP listener) when a bootstrap asks for an event after the last one, so
a conforming bootstrap then exits by itself. Two transports, as laminad offers them:
  "fd":  a socketpair; the bootstrap inherits one end as LAMINA_RUNTIME_FD.
  "tcp": a listener on 127.0.0.1:<free port>, given as AWS_LAMBDA_RUNTIME_API (each
         accepted connection is served in turn, keep-alive or not: curl opens one per call).
"""

import json
import os
import socket
import subprocess
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"


class Event:
    def __init__(self, payload, request_id=None, timeout_ms=3000, raw=None, headers=None):
        self.request_id = request_id or str(uuid.uuid4())
        self.body = raw if raw is not None else json.dumps(payload).encode()
        self.timeout_ms = timeout_ms
        self.extra = headers or {}
        self.deadline_ms = None  # set when served
        self.served_at_ms = None


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Request({self.method} {self.path} {self.headers} {self.body[:200]!r})"


class FakeRuntimeAPI:
    """Options that stress a client's HTTP handling (all off by default):
    lower_headers: header names in lower case;  chunked: event bodies chunk-encoded;
    dribble: every reply written a few bytes at a time (forces partial reads);
    close_each: (tcp only) "Connection: close" on every reply, then hang up;
    nonblocking_fd: (fd only) the bootstrap's end of the socketpair is O_NONBLOCK.
    """

    def __init__(
        self,
        events,
        mode="fd",
        arn="arn:aws:lambda:local:000000000000:function:fn",
        lower_headers=False,
        chunked=False,
        dribble=False,
        close_each=False,
        nonblocking_fd=False,
    ):
        self.lower_headers = lower_headers
        self.chunked = chunked
        self.dribble = dribble
        self.close_each = close_each
        self.events = list(events)
        self.queue = list(self.events)
        self.mode = mode
        self.arn = arn
        self.requests = []
        self.errors = []  # exceptions in the server thread
        self.done = threading.Event()
        self._socks = []
        self._listener = None
        self.child_fd = None
        self.port = None
        if mode == "fd":
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._socks.append(a)
            self._child = b
            self.child_fd = b.fileno()
            if nonblocking_fd:
                b.setblocking(False)  # as a daemon using SOCK_NONBLOCK would hand it over
            self._thread = threading.Thread(target=self._serve_conn_safe, args=(a,), daemon=True)
        elif mode == "tcp":
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.bind(("127.0.0.1", 0))
            lst.listen(16)
            self._listener = lst
            self.port = lst.getsockname()[1]
            self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        else:
            raise ValueError(mode)

    # -- plumbing -------------------------------------------------------------------------
    def env(self):
        if self.mode == "fd":
            return {"LAMINA_RUNTIME_FD": str(self.child_fd)}
        return {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}"}

    def pass_fds(self):
        return (self.child_fd,) if self.mode == "fd" else ()

    def start(self):
        self._thread.start()

    def after_spawn(self):
        if self.mode == "fd":
            self._child.close()

    def close(self):
        self.done.set()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        if self.mode == "fd":
            try:
                self._child.close()
            except OSError:
                pass
        self._thread.join(5)

    def _accept_loop(self):
        try:
            while not self.done.is_set():
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    return
                self._socks.append(conn)
                self._serve_conn_safe(conn)
        except Exception as e:  # pragma: no cover - reported by the tests
            self.errors.append(e)

    def _serve_conn_safe(self, conn):
        try:
            self._serve_conn(conn)
        except Exception as e:  # pragma: no cover
            self.errors.append(e)

    # -- HTTP -----------------------------------------------------------------------------
    def _serve_conn(self, conn):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in headers.get("transfer-encoding", ""):
                raise AssertionError("client sent a chunked body")
            n = int(headers.get("content-length", "0"))
            while len(buf) < n:
                chunk = conn.recv(max(65536, n - len(buf)))
                if not chunk:
                    return
                buf += chunk
            body, buf = buf[:n], buf[n:]
            req = Request(method, path, headers, body)
            self.requests.append(req)
            if not self._dispatch(conn, req):
                return
            if headers.get("connection", "").lower() == "close" or self.close_each:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
                return

    def _reply(self, conn, status, body=b"", headers=(), chunkable=False):
        reason = {200: "OK", 202: "Accepted", 404: "Not Found", 400: "Bad Request"}[status]
        hdrs = [("Content-Type", "application/json")] + list(headers)
        if self.close_each:
            hdrs.append(("Connection", "close"))
        if chunkable and self.chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
            pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
            body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
            body += b"0\r\nX-Trailer: yes\r\n\r\n"
        else:
            hdrs.append(("Content-Length", str(len(body))))
        head = f"HTTP/1.1 {status} {reason}\r\n"
        for k, v in hdrs:
            head += f"{k.lower() if self.lower_headers else k}: {v}\r\n"
        msg = head.encode() + b"\r\n" + body
        if self.dribble:
            for i in range(0, len(msg), 5):
                conn.sendall(msg[i : i + 5])
                time.sleep(0.0005)
        else:
            conn.sendall(msg)

    def _dispatch(self, conn, req):
        if req.method == "GET" and req.path == PREFIX + "/invocation/next":
            if not self.queue:
                # No more work: hang up, so the bootstrap exits.
                self.done.set()
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                return False
            ev = self.queue.pop(0)
            now = int(time.time() * 1000)
            ev.served_at_ms = now
            ev.deadline_ms = now + ev.timeout_ms
            hdrs = [
                ("Lambda-Runtime-Aws-Request-Id", ev.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(ev.deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", self.arn),
                ("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            ]
            hdrs += list(ev.extra.items())
            self._reply(conn, 200, ev.body, hdrs, chunkable=True)
            return True
        if req.method == "POST" and req.path.startswith(PREFIX + "/invocation/"):
            self._reply(conn, 202, b'{"status":"OK"}')
            return True
        if req.method == "POST" and req.path == PREFIX + "/init/error":
            self._reply(conn, 202, b'{"status":"OK"}')
            return True
        self._reply(conn, 404, b'{"errorMessage":"not found"}')
        return True

    # -- results --------------------------------------------------------------------------
    def results(self):
        """{request_id: (kind, Request)} for every response/error POST."""
        out = {}
        for r in self.requests:
            if r.method != "POST" or not r.path.startswith(PREFIX + "/invocation/"):
                continue
            rid, kind = r.path[len(PREFIX + "/invocation/"):].rsplit("/", 1)
            out[rid] = (kind, r)
        return out

    def init_errors(self):
        return [r for r in self.requests if r.path == PREFIX + "/init/error"]


class Run:
    def __init__(self, api, proc, stdout, stderr, returncode):
        self.api = api
        self.proc = proc
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode

    def result(self, ev):
        return self.api.results().get(ev.request_id)


def base_env(task_root, handler, extra=None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
        "AWS_REGION": "local",
        "TZ": ":UTC",
    }
    if extra:
        env.update(extra)
    return env


def run_bootstrap(cmd, task_root, handler, events, mode="fd", env=None, timeout=15, **api_options):
    """Run one bootstrap process against a fresh fake API until it exits. Always reaps it."""
    api = FakeRuntimeAPI(events, mode, **api_options)
    full_env = base_env(task_root, handler, env)
    full_env.update(api.env())
    proc = None
    try:
        api.start()
        proc = subprocess.Popen(
            cmd,
            cwd=str(task_root),
            env=full_env,
            pass_fds=api.pass_fds(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        api.after_spawn()
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            raise AssertionError(
                f"bootstrap did not exit within {timeout}s\nstdout:\n{out.decode(errors='replace')}"
                f"\nstderr:\n{err.decode(errors='replace')}\nrequests: {api.requests}"
            )
        if api.errors:
            raise AssertionError(f"fake API server failed: {api.errors!r}")
        return Run(api, proc, out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode)
    finally:
        if proc is not None and proc.poll() is None:
            _kill(proc)
            proc.wait()
        api.close()


def _kill(proc):
    try:
        os.killpg(proc.pid, 9)  # its own session: the bootstrap and anything it spawned
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
