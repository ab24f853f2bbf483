#!/usr/bin/env bash
# make demo: what lamina does today, on this machine.
#   1. lamina-run: one command in one micro-container, and what the runtime measured;
#   2. laminad + lamina: the examples of every language (Python, Node.js, Java, C#, Go,
#      a shell and a C `provided` bootstrap) packaged as images, deployed, invoked cold
#      and warm; versions published and an alias moved with a weight; the kernel's
#      figures, the live view, the Prometheus metrics and the bill.
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

# Every language's example, packaged as an image the way a user would.
mkdir -p "$work/src" "$work/images"
cp -r images/examples/python images/examples/nodejs images/examples/provided "$work/src/"
cp -r "$build/examples/java" "$build/examples/dotnet" "$build/examples/go" "$work/src/"
mkdir -p "$work/src/c"
cp "$build/runtimes/provided-echo/bootstrap" "$work/src/c/"
echo '{"FunctionName": "c-echo", "Runtime": "provided", "Handler": "echo"}' >"$work/src/c/lamina.json"
chmod -R a+rX "$work"
langs="python nodejs java dotnet go provided c"
for lang in $langs; do
	ext=zip
	[[ $lang == go || $lang == c ]] && ext=tar.gz
	lamina image build "$work/src/$lang" -o "$work/images/$lang.$ext" >/dev/null
done
step lamina image build examples/java -o java.zip "&& lamina image inspect java.zip"
lamina image inspect "$work/images/java.zip"
for lang in $langs; do
	img=$(ls "$work/images/$lang".*)
	step lamina deploy "$(basename "$img")"
	lamina deploy "$img"
done
step lamina list
lamina list
# (provided-echo is a shell loop forking a dozen processes per event: at 128 MB it gets
# 1/14 of a CPU, as on Lambda, and takes its time.)
for fn in python-echo nodejs-echo java-echo dotnet-echo go-echo provided-echo c-echo; do
	step lamina invoke "$fn" --payload "'{\"hello\": \"$fn\"}'" "# cold: REPORT has Init Duration"
	lamina invoke "$fn" --payload "{\"hello\": \"$fn\"}" | cut -c1-160
	step lamina invoke "$fn" "# warm"
	lamina invoke "$fn" --payload '{"again": true}' | cut -c1-160
done

section "versions and a weighted alias"
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
step lamina alias update python-echo live --version 2 --no-weight "# all traffic to 2"
lamina alias update python-echo live --version 2 --no-weight
step lamina logs python-echo "| tail -4"
lamina logs python-echo | tail -4

section "measured in the kernel, billed, watched"
metering=$(lamina --json metrics 2>/dev/null | grep -o '"Metering":"[a-z]*"' || true)
echo "metering: ${metering:-unknown} (eBPF probes: duration from event received to answer sent, CPU of every task)"
step lamina --json invoke c-echo --payload "'{\"n\": 1}'" "| grep -o Report"
lamina --json invoke c-echo --payload '{"n": 1}' 2>/dev/null | grep -o '"Report":{[^}]*}'
step lamina top --iterations 1
lamina top --iterations 1
step lamina metrics "| grep lamina_invocations_total"
lamina metrics | grep '^lamina_invocations_total'
step lamina bill
lamina bill
