# SPDX-License-Identifier: MIT
"""A fake laminad for testing the lamina CLI, and helpers to run the CLI against it.

The fake listens on a Unix socket in a temporary directory, records every request line
and answers from a script of canned responses, one per request, in the order requests
arrive. Tests then check the exact requests the CLI sent and what it printed.
"""
import json
import os
import socket
import subprocess
import tempfile
import threading

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINA_BUILD", os.path.join(TOP, "build"))
LAMINA = os.path.join(BUILD, "bin", "lamina")


def ok(**result):
    """A successful response carrying result."""
    return {"ok": True, **result}


def err(type_, message):
    """A refusal, as laminad sends it."""
    return {"ok": False, "error": {"type": type_, "message": message}}


class Defer:
    """Holds a response back until the next request has been answered: out-of-order."""

    def __init__(self, response):
        self.response = response


class Before:
    """Sends raw lines (e.g. a response to nobody) before the response."""

    def __init__(self, lines, response):
        self.lines = lines
        self.response = response


class Raw:
    """Answers with raw text instead of a JSON response (a broken daemon)."""

    def __init__(self, text):
        self.text = text


class Hangup:
    """Closes the connection instead of answering."""


class Always:
    """Answers this and every later request with response (a callable gets the request):
    for commands that poll, such as top. It stays at the head of the script."""

    def __init__(self, response):
        self.response = response


class FakeDaemon:
    def __init__(self, path):
        self.path = path
        self.script = []
        self.requests = []      # decoded request objects, in arrival order
        self.raw_lines = []     # the same, as the bytes received (without newline)
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._conns = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    # The script -----------------------------------------------------------------------

    def answer(self, *responses):
        """Appends responses to the script."""
        self.script.extend(responses)

    def calls(self):
        """The requests without their ids, for exact comparison."""
        return [{k: v for k, v in r.items() if k != "id"} for r in self.requests]

    def actions(self):
        return [r.get("action") for r in self.requests]

    # Running the CLI ------------------------------------------------------------------

    def run(self, *args, input=None, env=None, cwd=None, timeout=20):
        """Runs lamina --socket PATH ARGS…; input is bytes or str for stdin."""
        return run_lamina("--socket", self.path, *args, input=input, env=env, cwd=cwd,
                          timeout=timeout)

    # The server -----------------------------------------------------------------------

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _next_response(self):
        with self._lock:
            if self.script and isinstance(self.script[0], Always):
                return self.script[0].response
            if self.script:
                return self.script.pop(0)
        return err("ServiceException", "fake laminad: no scripted response left")

    @staticmethod
    def _line(req_id, response):
        return (json.dumps({"id": req_id, **response}) + "\n").encode()

    def _serve(self, conn):
        deferred = []
        f = conn.makefile("rb")
        try:
            for raw in f:
                raw = raw.rstrip(b"\n")
                req = json.loads(raw)
                with self._lock:
                    self.raw_lines.append(raw)
                    self.requests.append(req)
                reply = self._next_response()
                if callable(reply) and not isinstance(reply, type):
                    reply = reply(req)
                if isinstance(reply, Defer):
                    deferred.append(self._line(req.get("id"), reply.response))
                    continue
                if isinstance(reply, Hangup) or reply is Hangup:
                    return
                out = b""
                if isinstance(reply, Raw):
                    out = reply.text.encode() if isinstance(reply.text, str) else reply.text
                elif isinstance(reply, Before):
                    out = b"".join(l.encode() + b"\n" for l in reply.lines)
                    out += self._line(req.get("id"), reply.response)
                else:
                    out = self._line(req.get("id"), reply)
                out += b"".join(deferred)
                deferred.clear()
                conn.sendall(out)
        except (OSError, ValueError):
            pass
        finally:
            f.close()
            conn.close()

    def close(self):
        self._stop.set()
        self._sock.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._accepter.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


def run_lamina(*args, input=None, env=None, cwd=None, timeout=20):
    if isinstance(input, str):
        input = input.encode()
    full_env = dict(os.environ)
    full_env.pop("LAMINA_SOCKET", None)
    if env:
        full_env.update(env)
    p = subprocess.run([LAMINA, *args], input=input, capture_output=True, env=full_env,
                       cwd=cwd, timeout=timeout)
    p.out = p.stdout.decode()
    p.err = p.stderr.decode()
    return p


def configuration(name="hello", **over):
    """A FunctionConfiguration as laminad returns it."""
    conf = {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:local:000000000000:function:{name}",
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "CodeSize": 312,
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "LastModified": "2024-05-01T12:00:00.000+0000",
        "CodeSha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        "Version": "$LATEST",
        "Environment": {"Variables": {}},
        "EphemeralStorage": {"Size": 512},
        "RevisionId": "6f1c8f4e-0000-4000-8000-000000000001",
        "State": "Active",
    }
    conf.update(over)
    return conf
