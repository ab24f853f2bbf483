#!/usr/bin/env bash
# make demo: what lamina does today, on this machine.
#   1. lamina-run: one command in one micro-container, and what the runtime measured;
#   2. laminad + lamina: functions in Python, Node.js, shell and C deployed, invoked cold
#      and warm, published, routed by a weighted alias, and their logs.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
work=$(mktemp -d /tmp/lamina-demo.XXXXXX)
daemon_pid=
cleanup() {
	if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid"
		wait "$daemon_pid" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"	# sandboxes run as unprivileged users: code must be readable

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
section() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

section "one command in a micro-container (lamina-run)"
mkdir -p "$work/code"
cat >"$work/code/handler.py" <<'PY'
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
chmod -R a+rX "$work/code"
step lamina-run --code DIR --json -- python3 handler.py
"$bin/lamina-run" --code "$work/code" --json -- python3 handler.py
step lamina-run --memory 32 --json -- python3 -c "'x = bytearray(64 << 20)'"
"$bin/lamina-run" --memory 32 --json -- python3 -c 'x = bytearray(64 << 20)' || echo "exit status $? (137: OOM kill)"
step lamina-run --timeout 0.5 --json -- sh -c "'while :; do :; done'"
"$bin/lamina-run" --timeout 0.5 --json -- sh -c 'while :; do :; done' || echo "exit status $? (124: timeout)"

section "functions on laminad"
sock="$work/lamina.sock"
"$bin/laminad" --state-dir "$work/state" --socket "$sock" 2>"$work/laminad.log" &
daemon_pid=$!
for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.05; done
lamina() { "$bin/lamina" --socket "$sock" "$@"; }

cp -r images/examples/python images/examples/nodejs images/examples/provided-shell "$work/"
mkdir -p "$work/c-echo"
cp "$build/runtimes/provided-echo/bootstrap" "$work/c-echo/"
echo '{"FunctionName": "c-echo", "Runtime": "provided", "Handler": "echo"}' >"$work/c-echo/lamina.json"
chmod -R a+rX "$work"
for fn in python nodejs provided-shell; do
	step lamina deploy "examples/$fn"
	lamina deploy "$work/$fn"
done
step lamina deploy c-echo
lamina deploy "$work/c-echo"
step lamina list
lamina list
for fn in python-echo nodejs-echo shell-echo c-echo; do
	step lamina invoke "$fn" --payload "'{\"hello\": \"$fn\"}'"   "# cold"
	lamina invoke "$fn" --payload "{\"hello\": \"$fn\"}" | cut -c1-160
	step lamina invoke "$fn" "# warm"
	lamina invoke "$fn" --payload '{"again": true}' | cut -c1-160
done

step lamina publish python-echo
lamina publish python-echo
step lamina config python-echo --env GREETING=hi
lamina config python-echo --env GREETING=hi
step lamina publish python-echo
lamina publish python-echo
step lamina alias create python-echo live --version 1 --weight 2=0.3
lamina alias create python-echo live --version 1 --weight 2=0.3
printf '\n\033[1m%s\033[0m\n' "20 invocations of python-echo:live, by executed version:"
for _ in $(seq 20); do lamina --json invoke python-echo:live --payload '{}' 2>/dev/null; echo; done |
	grep -o '"ExecutedVersion":"[^"]*"' | sort | uniq -c
step lamina logs python-echo "| tail -4"
lamina logs python-echo | tail -4
