#!/usr/bin/env bash
# make demo: what lamina does today, on this machine. Runs a few commands in
# micro-containers and prints what the runtime measured for each.
set -euo pipefail
build=${1:-build}
run="$build/bin/lamina-run"
code=$(mktemp -d /tmp/lamina-demo.XXXXXX)
trap 'rm -rf "$code"' EXIT
chmod 755 "$code"  # the sandbox user must be able to read the code

cat >"$code/handler.py" <<'PY'
import os, socket
print("hello from", socket.gethostname(), "as uid", os.getuid(), "pid", os.getpid())
print("visible processes:", len([p for p in os.listdir("/proc") if p.isdigit()]))
print("network interfaces:", [n for _, n in socket.if_nameindex()])
with open("/proc/self/status") as f:
    print([l.strip() for l in f if l.startswith(("CapEff", "Seccomp:", "NoNewPrivs"))])
try:
    open("/var/task/x", "w")
except OSError as e:
    print("write to /var/task:", e.strerror)
PY

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step lamina-run --code "$code" --json -- python3 handler.py
"$run" --code "$code" --json -- python3 handler.py

step lamina-run --memory 32 --json -- python3 -c "'x = bytearray(64 << 20)'"
"$run" --memory 32 --json -- python3 -c 'x = bytearray(64 << 20)' || echo "exit status $? (137: OOM kill)"

step lamina-run --timeout 0.5 --json -- sh -c "'while :; do :; done'"
"$run" --timeout 0.5 --json -- sh -c 'while :; do :; done' || echo "exit status $? (124: timeout)"

step lamina-run --pids 16 --json -- sh -c "'for i in \$(seq 40); do sleep 1 & done; wait'"
"$run" --pids 16 --json -- sh -c 'for i in $(seq 40); do sleep 1 & done 2>&1 | tail -1; wait' || true

step lamina-run --json -- node -e "'console.log(process.version)'"
"$run" --memory 256 --json -- node -e 'console.log("node", process.version, "in", require("os").hostname())'
