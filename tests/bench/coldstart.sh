#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/bench/coldstart.sh BUILD_DIR — each language's cold start on laminad beside the
# bare start of its interpreter or binary, both measured in this run: the example
# function of every language (images/examples/<lang>; the compiled ones from
# BUILD_DIR/examples/<lang>; `provided` is the C echo bootstrap), deployed at its
# manifest's MemorySize, invoked on a fresh instance again and again (a configuration
# change retires the warm one before each: invoke_bench cold), p50 of the client-seen
# latency of the Invoke; beside it the median fork+exec-to-exit of `python3 -c pass`,
# `node -e 0`, `java -version`, `mono` running an empty exe, an empty static Go binary and
# /bin/true. Target: cold start <= bare + 10 ms. Prints ✓ or MISSED; never fails on
# timing, only if a measurement cannot be made.
#
# Knobs: BENCH_COLD [30] cold invokes per language and bare runs per command;
# COLDSTART_LANGS ["python nodejs java dotnet go provided"].
set -u
BUILD=${1:-build}
N=${BENCH_COLD:-30}
LANGS=${COLDSTART_LANGS:-python nodejs java dotnet go provided}
MARGIN_MS=10
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BENCH=$BUILD/tests/invoke_bench
FORKEXEC=$BUILD/tests/forkexec_bench
JAVA=$(ls -d /usr/lib/jvm/java-17-openjdk-*/bin/java 2>/dev/null | head -n 1)

for f in "$BUILD/bin/laminad" "$BUILD/bin/lamina" "$BENCH" "$FORKEXEC"; do
	if [[ ! -x $f ]]; then
		echo "coldstart.sh: $f is missing (make $f)" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/lamina-bench-coldstart.XXXXXX) || exit 1
daemon=
cleanup() {
	if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then
		kill -TERM "$daemon"
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 755 "$work"
FAILED=0

# The bare starts' programs: an empty C# exe and an empty static Go binary.
mkdir -p "$work/bare"
if command -v mcs >/dev/null; then
	echo 'static class Empty { static void Main() { } }' >"$work/bare/empty.cs"
	mcs -nologo -out:"$work/bare/empty.exe" "$work/bare/empty.cs" >/dev/null 2>&1
fi
if command -v go >/dev/null; then
	printf 'package main\n\nfunc main() {}\n' >"$work/bare/main.go"
	(cd "$work/bare" && CGO_ENABLED=0 GO111MODULE=off GOCACHE="$work/go-cache" \
		go build -o empty-go main.go) >/dev/null 2>&1
fi

# Each language: example directory, function name, bare command (label, then argv).
example_dir() {
	case $1 in
	python | nodejs) echo "$REPO/images/examples/$1" ;;
	java | dotnet | go) echo "$BUILD/examples/$1" ;;
	provided) echo "$work/c-echo" ;;
	esac
}
bare_label() {
	case $1 in
	python) echo "python3 -c pass" ;;
	nodejs) echo "node -e 0" ;;
	java) echo "java -version" ;;
	dotnet) echo "mono empty.exe" ;;
	go) echo "empty static Go binary" ;;
	provided) echo "/bin/true" ;;
	esac
}
bare_cmd() {
	case $1 in
	python) echo /usr/bin/python3 -c pass ;;
	nodejs) echo /usr/bin/node -e 0 ;;
	java) echo "$JAVA" -version ;;
	dotnet) echo /usr/bin/mono "$work/bare/empty.exe" ;;
	go) echo "$work/bare/empty-go" ;;
	provided) echo /bin/true ;;
	esac
}

mkdir -p "$work/c-echo"
cp "$BUILD/runtimes/provided-echo/bootstrap" "$work/c-echo/" 2>/dev/null
echo '{"FunctionName":"c-echo","Runtime":"provided","Handler":"echo"}' >"$work/c-echo/lamina.json"
for lang in $LANGS; do
	d=$(example_dir "$lang")
	if [[ -f $d/lamina.json ]]; then
		rm -rf "${work:?}/ex-$lang"
		cp -r "$d" "$work/ex-$lang"
		rm -rf "$work/ex-$lang/__pycache__"
	fi
done
chmod -R a+rX "$work"

"$BUILD/bin/laminad" --state-dir "$work/state" --socket "$work/sock" 2>"$work/laminad.log" &
daemon=$!
for _ in $(seq 200); do [[ -S $work/sock ]] && break; sleep 0.05; done
if [[ ! -S $work/sock ]]; then
	echo "coldstart.sh: laminad did not start: $(tail -n 3 "$work/laminad.log")" >&2
	exit 1
fi

ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000 }'; }

printf '\ncold start by language (p50 of %d, client-seen Invoke on a fresh instance; bare: median of %d fork+exec)\n' "$N" "$N"
printf '  %-22s %8s %8s %8s   %-24s %8s %9s\n' "language (memory)" "cold ms" "p99 ms" "init ms" "bare start" "bare ms" "target"
for lang in $LANGS; do
	dir=$work/ex-$lang
	if [[ ! -f $dir/lamina.json ]]; then
		printf '  %-22s %s\n' "$lang" "not measured: $(example_dir "$lang") is missing (make lang-runtimes)"
		FAILED=1
		continue
	fi
	fn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["FunctionName"])' "$dir/lamina.json")
	mem=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("MemorySize", 128))' "$dir/lamina.json")
	if ! "$BUILD/bin/lamina" --socket "$work/sock" deploy "$dir" >"$work/deploy.log" 2>&1; then
		printf '  %-22s %s\n' "$lang" "not measured: deploy failed: $(tail -n 1 "$work/deploy.log")"
		FAILED=1
		continue
	fi
	# Bare start first, then the cold starts, back to back.
	read -r -a cmd <<<"$(bare_cmd "$lang")"
	bare=
	if [[ -x ${cmd[0]} ]]; then
		bare=$("$FORKEXEC" --runs "$N" -- "${cmd[@]}" 2>/dev/null | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | head -n 1)
	fi
	if ! read -r _ p50 p99 init < <("$BENCH" cold "$work/sock" "$fn" "$N" 2>"$work/cold.err") || [[ -z ${p50:-} ]]; then
		printf '  %-22s %s\n' "$lang" "not measured: $(tail -n 1 "$work/cold.err")"
		FAILED=1
		continue
	fi
	label="$lang ($mem MB)"
	if [[ -z $bare ]]; then
		printf '  %-22s %8s %8s %8.1f   %-24s %8s %9s\n' "$label" "$(ms "$p50")" "$(ms "$p99")" "$init" \
			"$(bare_label "$lang")" "-" "not measured"
		continue
	fi
	target=$(awk -v b="$bare" -v m="$MARGIN_MS" 'BEGIN { printf "%.1f", b + m }')
	verdict=$(awk -v x="$p50" -v t="$target" 'BEGIN { print (x / 1000 <= t) ? "✓" : "MISSED" }')
	printf '  %-22s %8s %8s %8.1f   %-24s %8.1f %9s %s\n' "$label" "$(ms "$p50")" "$(ms "$p99")" "$init" \
		"$(bare_label "$lang")" "$bare" "<= $target" "$verdict"
done
echo "  target: cold start p50 <= the bare start + $MARGIN_MS ms, both measured above; load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit $FAILED
