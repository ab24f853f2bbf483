#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/bench/invoke.sh BUILD_DIR — laminad's invoke path beside its floors, measured in
# one run: a raw Unix-socket ping-pong (the floor), warm invokes of the C echo handler
# (p50/p99, client already connected), throughput with 64 requests in flight, cold
# invokes of the C handler and of a Python handler beside `python3 -c pass`.
# Prints figures and MISSED beside a missed target; never fails on timing.
set -u
BUILD=${1:-build}
N=${BENCH_INVOKES:-20000}
COLD=${BENCH_COLD:-30}
BENCH=$BUILD/tests/invoke_bench
work=$(mktemp -d /tmp/lamina-bench-invoke.XXXXXX)
daemon=
cleanup() {
	if [[ -n "$daemon" ]] && kill -0 "$daemon" 2>/dev/null; then
		kill -TERM "$daemon"
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

mkdir -p "$work/echo" "$work/py"
cp "$BUILD/runtimes/provided-echo/bootstrap" "$work/echo/"
cat >"$work/py/app.py" <<'PY'
def handler(event, context):
    return event
PY
chmod -R a+rX "$work"
"$BUILD/bin/laminad" --state-dir "$work/state" --socket "$work/sock" 2>"$work/laminad.log" &
daemon=$!
for _ in $(seq 100); do [[ -S "$work/sock" ]] && break; sleep 0.05; done
lamina() { "$BUILD/bin/lamina" --socket "$work/sock" "$@" >/dev/null; }
echo '{"FunctionName":"echo","Runtime":"provided","Handler":"echo"}' >"$work/echo/lamina.json"
echo '{"FunctionName":"py","Runtime":"python3.11","Handler":"app.handler"}' >"$work/py/lamina.json"
lamina deploy "$work/echo" && lamina deploy "$work/py" || { echo "deploy failed"; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v x="$1" -v t="$2" -v op="$3" 'BEGIN { ok = op == "<=" ? x <= t : x >= t; print ok ? "ok" : "MISSED" }'; }

read -r _ floor_p50 floor_p99 _ < <("$BENCH" floor "$N")
read -r _ warm_p50 warm_p99 _ < <("$BENCH" warm "$work/sock" echo "$N")
read -r _ _ _ rate < <("$BENCH" throughput "$work/sock" echo "$N" 64)
read -r _ cold_c_p50 cold_c_p99 cold_c_init < <("$BENCH" cold "$work/sock" echo "$COLD")
read -r _ cold_py_p50 cold_py_p99 cold_py_init < <("$BENCH" cold "$work/sock" py "$COLD")
# The bare interpreter's start, timed the same way (fork+exec, median).
py_bare_ms=$("$BUILD/tests/forkexec_bench" --runs "$COLD" -- /usr/bin/python3 -c pass 2>/dev/null |
	sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | head -1)

echo
echo "invoke path (p50 / p99)                  figure          beside"
printf '  raw Unix-socket ping-pong (floor)  %8.1f / %6.1f us\n' "$floor_p50" "$floor_p99"
printf '  warm invoke, C echo                %8.1f / %6.1f us   %sx floor (target <= 4x) %s\n' \
	"$warm_p50" "$warm_p99" "$(ratio "$warm_p50" "$floor_p50")" \
	"$(verdict "$(ratio "$warm_p50" "$floor_p50")" 4 "<=")"
printf '  throughput, 64 in flight           %8.0f invokes/s      (target >= 20000) %s\n' \
	"$rate" "$(verdict "$rate" 20000 ">=")"
printf '  cold invoke, C echo                %8.2f / %6.2f ms   init %.2f ms (target p50 < 5 ms) %s\n' \
	"$(ratio "$cold_c_p50" 1000)" "$(ratio "$cold_c_p99" 1000)" "$cold_c_init" \
	"$(verdict "$(ratio "$cold_c_p50" 1000)" 5 "<=")"
if [[ -n "$py_bare_ms" ]]; then
	target=$(awk -v b="$py_bare_ms" 'BEGIN { printf "%.1f", b + 10 }')
	printf '  cold invoke, Python                %8.2f / %6.2f ms   python3 -c pass %.2f ms (target <= %s ms) %s\n' \
		"$(ratio "$cold_py_p50" 1000)" "$(ratio "$cold_py_p99" 1000)" "$py_bare_ms" "$target" \
		"$(verdict "$(ratio "$cold_py_p50" 1000)" "$target" "<=")"
fi
