#!/usr/bin/env bash
# Runs every test: the C unit tests (cmocka), then the integration, security and fault
# tests (pytest against the real binaries). Ends with "N passed, N failed[, N skipped]".
# With LAMINA_REQUIRE_ALL=1 a skipped test counts as a failure.
set -uo pipefail

build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$top" && cd "$build" && pwd)
export LAMINA_BUILD=$build
results=$(mktemp -d /tmp/lamina-results.XXXXXX)
trap 'rm -rf "$results"' EXIT

passed=0 failed=0 skipped=0

echo "== unit tests"
for t in "$build"/tests/test_*; do
	[[ -x "$t" ]] || continue
	out="$results/$(basename "$t").tap"
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$out" 2>&1
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	s=$(grep -c '^ok .*# SKIP' "$out")
	p=$((p - s))
	if ! grep -qE '^(ok|not ok) ' "$out"; then
		f=1	# crashed before reporting anything
	fi
	printf '  %-28s %d passed, %d failed%s\n' "$(basename "$t")" "$p" "$f" \
		"$([[ $s -gt 0 ]] && echo ", $s skipped")"
	[[ $f -gt 0 ]] && sed 's/^/    /' "$out"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

# Each suite in its own pytest run: their conftest modules share a name.
for suite in tests/integration tests/bootstrap tests/cli tests/daemon tests/images tests/bpf; do
	[[ -d "$top/$suite" ]] || continue
	echo "== $suite"
	junit="$results/$(basename "$suite").xml"
	(cd "$top" && /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider \
		--junitxml="$junit" "$suite")
	if [[ -s "$junit" ]]; then
		read -r tp tf ts < <(/usr/bin/python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - k, f, k)
PY
)
		passed=$((passed + tp)) failed=$((failed + tf)) skipped=$((skipped + ts))
	else
		echo "  $suite produced no report"
		failed=$((failed + 1))
	fi
done

if [[ "${LAMINA_REQUIRE_ALL:-0}" == 1 && $skipped -gt 0 ]]; then
	echo "LAMINA_REQUIRE_ALL=1: $skipped skipped test(s) count as failures"
	failed=$((failed + skipped))
	skipped=0
fi

echo
if [[ $skipped -gt 0 ]]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[[ $failed -eq 0 ]]
