#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/bench/run.sh BUILD_DIR — how fast a lamina sandbox starts and how little memory
# an idle one adds, printed beside the floor (fork+exec) and the usual alternatives
# (bwrap, crun) measured in the same run on the same machine.
#
# Prints figures and ratios against the targets, never asserts timings: a missed target
# is printed as MISSED and the script still exits 0. It exits 1 only if a measurement
# itself could not be made. Everything it creates (bundle, crun state, cgroups,
# processes) lives under one mktemp -d or is removed by exact name on every exit path.
#
# Environment knobs (defaults in brackets): BENCH_RUNS [300] timed runs of each fast
# line, BENCH_CRUN_RUNS [100], BENCH_IDLE [1000] idle sandboxes, BENCH_IDLE_ROUNDS [3],
# BENCH_POOL [8].
set -u

BUILD=${1:-build}
RUNS=${BENCH_RUNS:-300}
CRUN_RUNS=${BENCH_CRUN_RUNS:-100}
IDLE=${BENCH_IDLE:-1000}
IDLE_ROUNDS=${BENCH_IDLE_ROUNDS:-3}
POOL=${BENCH_POOL:-8}
# Targets from the issue.
TARGET_FLOOR_RATIO=2.5		# lamina spawn-to-exit <= 2.5x fork+exec
TARGET_CRUN_RATIO=8		# lamina at least 8x faster than `crun run`
TARGET_IDLE_KIB=256		# per idle sandbox, beyond the bare process

SPAWN_BENCH=$BUILD/tests/spawn_bench
FORKEXEC_BENCH=$BUILD/tests/forkexec_bench
LAMINA_RUN=$BUILD/bin/lamina-run
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

CRUN_ID=lamina-bench-$$
CRUN_CGROUP=lamina-bench-crun-$$
BWRAP_ARGS=(--unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin
	    --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev
	    --tmpfs /tmp)
# crun 1.8 refuses a hybrid host whose v2 tree is mounted; hide it in a private mount
# namespace. The same wrapper around /bin/true alone is measured, to subtract it.
UNIFIED=/sys/fs/cgroup/unified
WRAP=(unshare -m --propagation private sh -c)

TMP=
CHILD=
FAILED=0
BENCH_PIDS=()
NEW_PARENTS=()

log() { printf '%s\n' "$*" >&2; }

# Removes what this run made, whatever the exit path; idempotent.
cleanup() {
	local rc=$?

	trap - EXIT INT TERM HUP
	if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
		# The benches catch SIGTERM, kill and reap their sandboxes, and exit.
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	CHILD=
	if [ -n "$TMP" ] && [ -d "$TMP/crun-state" ] && command -v crun >/dev/null; then
		"${WRAP[@]}" "umount $UNIFIED 2>/dev/null; crun --root '$TMP/crun-state' \
			--cgroup-manager=cgroupfs delete -f $CRUN_ID" >/dev/null 2>&1
	fi
	remove_own_cgroups
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}

# crun's cgroups, by the exact path given in its config, and those of our own
# spawn_bench processes (the runtime names them sbx-PID-N): only if left behind.
remove_own_cgroups() {
	local d pid

	for d in /sys/fs/cgroup/*/"$CRUN_CGROUP"; do
		[ -d "$d" ] && { log "removing leftover crun cgroup $d"; rmdir "$d" 2>/dev/null; }
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for d in /sys/fs/cgroup/*/lamina/sbx-"$pid"-*; do
			[ -d "$d" ] && { log "removing leftover cgroup $d"; rmdir "$d" 2>/dev/null; }
		done
	done
	# The runtime removes its default parent when it empties; if a bench was killed
	# before it could, and the parent was not there before us, remove it if empty
	# (rmdir fails harmlessly while anything else uses it).
	for d in "${NEW_PARENTS[@]}"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
}

# on_signal: exit through cleanup with 128+N.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run_bench NAME CMD...: runs CMD in the background (so that a signal to this script is
# handled at once, not after CMD ends), its stdout to $TMP/NAME.out. Returns its status.
run_bench() {
	local name=$1 rc
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	CHILD=$!
	BENCH_PIDS+=("$CHILD")
	wait "$CHILD"
	rc=$?
	CHILD=
	if [ $rc -ne 0 ]; then
		log "bench '$name' failed ($rc): $(tail -n 3 "$TMP/$name.err" | tr '\n' ' ')"
		FAILED=1
	fi
	return $rc
}

# kv NAME KEY: the value of KEY= in the first line of NAME's output that has it.
kv() {
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$TMP/$1.out" 2>/dev/null | head -n 1
}
phase() {
	sed -n "s/^phase=$2 median_ms=\\([^ ]*\\).*/\\1/p" "$TMP/$1.out" 2>/dev/null | head -n 1
}
calc() { awk "BEGIN { $1 }" </dev/null; }

ensure_tools() {
	local missing=()

	command -v bwrap >/dev/null || missing+=(bubblewrap)
	command -v crun >/dev/null || missing+=(crun)
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1; } ||
		log "could not install ${missing[*]}: those lines will be skipped"
}

# A bundle as close to a lamina sandbox as OCI allows (see oci_bundle.py).
make_crun_bundle() {
	local b=$TMP/bundle

	mkdir -p "$b/rootfs" "$TMP/crun-state" || return 1
	(cd "$b" && crun spec) >/dev/null 2>&1 || return 1
	python3 "$HERE/oci_bundle.py" "$b" "$REPO/runtime/seccomp.c" "/$CRUN_CGROUP" \
		>"$TMP/bundle.out" 2>"$TMP/bundle.err" || return 1
}

crun_cmd() {
	echo "umount $UNIFIED && crun --root '$TMP/crun-state' --cgroup-manager=cgroupfs run -b '$TMP/bundle' $CRUN_ID"
}

# ---- main ----

if [ "$(id -u)" -ne 0 ]; then
	log "run.sh: needs root (namespaces, mounts, cgroups)"
	exit 1
fi
for f in "$SPAWN_BENCH" "$FORKEXEC_BENCH" "$LAMINA_RUN"; do
	if [ ! -x "$f" ]; then
		log "run.sh: $f missing: make $f"
		exit 1
	fi
done
ensure_tools
for d in /sys/fs/cgroup/{memory,pids,cpu,unified}; do
	[ -d "$d" ] && [ ! -d "$d/lamina" ] && NEW_PARENTS+=("$d/lamina")
done
TMP=$(mktemp -d /tmp/lamina-bench.XXXXXX) || exit 1
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log "== spawn-to-exit of /bin/true (median of $RUNS; crun: of $CRUN_RUNS) =="
log "  fork+exec";		run_bench floor "$FORKEXEC_BENCH" --runs "$RUNS"
log "  posix_spawn";		run_bench posix "$FORKEXEC_BENCH" --runs "$RUNS" --posix-spawn
log "  lamina pooled";	run_bench pooled "$SPAWN_BENCH" --runs "$RUNS" --pool "$POOL" --floor
log "  lamina fresh";		run_bench fresh "$SPAWN_BENCH" --runs "$RUNS" --pool 0 --fresh-netns
log "  lamina pool, new netns";	run_bench pool_newnet "$SPAWN_BENCH" --runs "$RUNS" --pool "$POOL" --fresh-netns
log "  lamina shared netns, new cgroup"; run_bench newcg_sharednet "$SPAWN_BENCH" --runs "$RUNS" --pool 0
log "  lamina-run CLI";	run_bench cli "$FORKEXEC_BENCH" --runs "$RUNS" -- "$LAMINA_RUN" -- /bin/true
HAVE_BWRAP=0
if command -v bwrap >/dev/null; then
	log "  bwrap"
	run_bench bwrap "$FORKEXEC_BENCH" --runs "$RUNS" -- bwrap "${BWRAP_ARGS[@]}" /bin/true &&
		HAVE_BWRAP=1
fi
HAVE_CRUN=0
if command -v crun >/dev/null && command -v python3 >/dev/null && [ -d "$UNIFIED" ] &&
   make_crun_bundle; then
	# crun and the bare wrapper alternate, so that the wrapper's cost is subtracted as
	# measured under the same load (median of the paired differences).
	log "  crun run, alternating with the unshare -m + umount wrapper alone"
	run_bench crun "$FORKEXEC_BENCH" --runs "$CRUN_RUNS" --warmup 5 -- \
		"${WRAP[@]}" "$(crun_cmd)" --vs "${WRAP[@]}" "umount $UNIFIED && /bin/true" &&
		HAVE_CRUN=1
	# Every run removes its container; this is for a run that failed half-way.
	"${WRAP[@]}" "umount $UNIFIED 2>/dev/null; crun --root '$TMP/crun-state' \
		--cgroup-manager=cgroupfs delete -f $CRUN_ID" >/dev/null 2>&1
	if [ -n "$(ls -A "$TMP/crun-state" 2>/dev/null)" ]; then
		log "crun left state behind: $(ls -A "$TMP/crun-state")"
		FAILED=1
	fi
	if ls -d /sys/fs/cgroup/*/"$CRUN_CGROUP" >/dev/null 2>&1; then
		log "crun left cgroups behind: $(ls -d /sys/fs/cgroup/*/"$CRUN_CGROUP")"
		FAILED=1
	fi
else
	log "  crun: skipped (crun, python3 or $UNIFIED missing, or the bundle failed:" \
	    "$(cat "$TMP/bundle.err" 2>/dev/null | tail -n 1))"
fi

LOAD_TIMED=$(cut -d' ' -f1-3 /proc/loadavg)

log "== memory of $IDLE idle sandboxes, $IDLE_ROUNDS rounds =="
# MemAvailable is host-wide, so bare and lamina alternate, and the median of the rounds
# is reported: what else runs on the host moves single readings by tens of MiB.
for r in $(seq "$IDLE_ROUNDS"); do
	log "  round $r: bare sleep";	run_bench idle_bare_$r "$FORKEXEC_BENCH" --idle "$IDLE" -- /bin/sleep 600
	log "  round $r: lamina";	run_bench idle_lamina_$r "$SPAWN_BENCH" --idle "$IDLE"
done
if [ $HAVE_BWRAP = 1 ]; then
	log "  bwrap"
	run_bench idle_bwrap "$FORKEXEC_BENCH" --idle "$IDLE" -- \
		bwrap "${BWRAP_ARGS[@]}" /bin/sleep 600
fi

# ---- the table ----

FLOOR=$(kv floor median_ms)
FR=
POOLED=$(kv pooled median_ms)
CRUN_RAW=$(kv crun median_ms)
WRAPPER=$(kv crun vs_median_ms)
CRUN_NET=
[ $HAVE_CRUN = 1 ] && CRUN_NET=$(kv crun diff_median_ms)

# verdict VALUE OP TARGET [UNIT]: "(target OP TARGET)" or "MISSED (target ...)".
verdict() {
	if calc "exit !($1 $2 $3)"; then
		printf '(target %s %s%s)' "$2" "$3" "${4:-}"
	else
		printf 'MISSED (target %s %s%s)' "$2" "$3" "${4:-}"
	fi
}

row() {	# row LABEL NAME [NOTE]
	local median p90

	median=$(kv "$2" median_ms)
	p90=$(kv "$2" p90_ms)
	if [ -z "$median" ]; then
		printf '  %-36s %9s %9s   %s\n' "$1" "-" "-" "not measured"
		return
	fi
	printf '  %-36s %9.3f %9.3f   %s\n' "$1" "$median" "$p90" "${3:-}"
}

ratio_note() {	# ratio_note NAME: xN of the floor, and vs crun
	local m=$(kv "$1" median_ms) note

	[ -z "$m" ] || [ -z "$FLOOR" ] && return
	note=$(calc "printf \"%.2fx floor\", $m / $FLOOR")
	printf '%s' "$note"
}

echo
echo "lamina benchmark — $(uname -r), $(nproc) CPUs, cgroups: $( [ -d $UNIFIED ] && echo hybrid v1+v2 || echo v2), bwrap $(bwrap --version 2>/dev/null | awk '{print $2}'), crun $(crun --version 2>/dev/null | awk 'NR==1 {print $3}')"
echo "load average before the timings: $LOAD_START, after them: $LOAD_TIMED (they assume a quiet host)"
echo
printf '  %-36s %9s %9s   %s\n' "spawn /bin/true to exit" "median ms" "p90 ms" "ratio"
row "fork+exec (floor)" floor "1.00x floor"
row "posix_spawn" posix "$(ratio_note posix)"
NOTES=()
if [ -n "$POOLED" ] && [ -n "$FLOOR" ]; then
	FR=$(calc "printf \"%.2f\", $POOLED / $FLOOR")
	NOTE="${FR}x floor $(verdict "$FR" "<=" $TARGET_FLOOR_RATIO x)"
	IFLOOR=$(kv pooled floor_median_ms)
	[ -n "$IFLOOR" ] && NOTES+=("lamina pooled is $(calc "printf \"%.2f\", $POOLED / $IFLOOR")x a fork+exec floor of $IFLOOR ms timed alternately in the same loop")
	if [ -n "$CRUN_NET" ]; then
		CR=$(calc "printf \"%.1f\", $CRUN_NET / $POOLED")
		CRR=$(calc "printf \"%.1f\", $CRUN_RAW / $POOLED")
		NOTE="$NOTE, ${CR}x faster than crun $(verdict "$CR" ">=" $TARGET_CRUN_RATIO x)"
		NOTES+=("crun's ratio is against crun minus its wrapper; against raw crun (with the wrapper) it is ${CRR}x")
	else
		NOTE="$NOTE, crun not measured"
	fi
	row "lamina (pooled cgroup, shared netns)" pooled "$NOTE"
else
	row "lamina (pooled cgroup, shared netns)" pooled
fi
row "lamina (fresh netns + fresh cgroup)" fresh "$(ratio_note fresh)"
row "  lamina (pooled cgroup, fresh netns)" pool_newnet "$(ratio_note pool_newnet)"
row "  lamina (fresh cgroup, shared netns)" newcg_sharednet "$(ratio_note newcg_sharednet)"
row "lamina-run -- /bin/true (CLI)" cli "$(ratio_note cli)"
row "bwrap --unshare-all" bwrap "$(ratio_note bwrap)"
row "crun run (raw, with the wrapper)" crun "$(ratio_note crun)"
if [ -n "$CRUN_NET" ]; then
	printf '  %-36s %9.3f %9.3f   %s\n' "unshare -m + umount wrapper alone" "$WRAPPER" \
		"$(kv crun vs_p90_ms)" "timed alternately with crun run"
	printf '  %-36s %9.3f %9s   %s\n' "crun run (minus the wrapper)" "$CRUN_NET" "" \
		"$(calc "printf \"%.2fx floor\", $CRUN_NET / $FLOOR") (median of paired differences)"
fi
if [ -n "$POOLED" ]; then
	NOTES+=("lamina pooled by call: spawn $(phase pooled spawn) + wait $(phase pooled wait) + free $(phase pooled free) ms (medians)")
fi
for n in "${NOTES[@]}"; do
	echo "  * $n"
done

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# rounds NAME KEY: KEY of every round of NAME, one a line
rounds() { local r; for r in $(seq "$IDLE_ROUNDS"); do kv "${1}_$r" "$2"; done; }
# extras: lamina's per-sandbox KiB minus the bare process's, per round
extras() {
	local r b l
	for r in $(seq "$IDLE_ROUNDS"); do
		b=$(kv idle_bare_$r per_kib); l=$(kv idle_lamina_$r per_kib)
		[ -n "$b" ] && [ -n "$l" ] && calc "printf \"%.1f\\n\", $l - $b"
	done
}

# counters NAME_r: the kernel counters an idle instance adds, summed: less sensitive to the
# rest of the host than MemAvailable (no page cache, no reclaimable slab, and no AnonPages,
# which other processes move most and which the same sleep binary adds equally to both).
COUNTERS="SUnreclaim Shmem Percpu PageTables KernelStack"
counters() {
	local f sum=0 v
	for f in $COUNTERS; do
		v=$(kv "$1" ${f}_per_kib)
		[ -n "$v" ] || return
		sum=$(calc "print $sum + $v")
	done
	echo "$sum"
}
counter_extras() {
	local r b l
	for r in $(seq "$IDLE_ROUNDS"); do
		b=$(counters idle_bare_$r); l=$(counters idle_lamina_$r)
		[ -n "$b" ] && [ -n "$l" ] && calc "printf \"%.1f\\n\", $l - $b"
	done
}

echo
printf '  %-36s %9s %9s   %s\n' "$IDLE idle sleep 600" "KiB each" "extra KiB" "beyond a bare process (median of $IDLE_ROUNDS rounds)"
BARE=$(rounds idle_bare per_kib | median)
LAMINA=$(rounds idle_lamina per_kib | median)
EXTRA=$(extras | median)
if [ -n "$BARE" ]; then
	printf '  %-36s %9.0f %9s   %s\n' "bare fork+exec sleep" "$BARE" "-" "rounds: $(rounds idle_bare per_kib | xargs printf '%.0f ' )"
else
	printf '  %-36s %9s %9s   %s\n' "bare fork+exec sleep" "-" "-" "not measured"
fi
if [ -n "$LAMINA" ] && [ -n "$EXTRA" ]; then
	printf '  %-36s %9.0f %9.0f   %s %s\n' "lamina sandbox (shared netns)" "$LAMINA" "$EXTRA" \
		"$(verdict "$EXTRA" "<" $TARGET_IDLE_KIB " KiB")" "rounds: $(extras | xargs printf '%.0f ')"
else
	printf '  %-36s %9s %9s   %s\n' "lamina sandbox (shared netns)" "-" "-" "not measured"
fi
CEXTRA=$(counter_extras | median)
if [ -n "$CEXTRA" ]; then
	printf '  %-36s %9s %9.0f   %s %s\n' "  same, from kernel counters" "" "$CEXTRA" \
		"$(verdict "$CEXTRA" "<" $TARGET_IDLE_KIB " KiB")" "rounds: $(counter_extras | xargs printf '%.0f ')"
fi
BW=$(kv idle_bwrap per_kib)
if [ -n "$BW" ] && [ -n "$BARE" ]; then
	printf '  %-36s %9.0f %9.0f   %s\n' "bwrap --unshare-all sleep" "$BW" "$(calc "print $BW - $BARE")" "one round"
else
	printf '  %-36s %9s %9s   %s\n' "bwrap --unshare-all sleep" "-" "-" "not measured"
fi
if [ -n "$LAMINA" ]; then
	# Where lamina's extra goes: meminfo fields and slab caches, beyond the bare process.
	fields=""
	for f in Slab SUnreclaim Shmem Percpu PageTables KernelStack AnonPages; do
		l=$(rounds idle_lamina ${f}_per_kib | median); b=$(rounds idle_bare ${f}_per_kib | median)
		[ -n "$l" ] && [ -n "$b" ] && fields="$fields $f $(calc "printf \"%+.0f\", $l - $b")"
	done
	echo "  * kernel counters: the sum of $COUNTERS"
	echo "  * lamina extra by meminfo field (KiB):$fields"
	printf '  * lamina top slab growth per sandbox (last round):'
	sed -n 's/^slab=\([^ ]*\) per_kib=\([^ ]*\) objs_per=\([^ ]*\)/ \1 \2 KiB (\3 objs)/p' \
		"$TMP/idle_lamina_$IDLE_ROUNDS.out" 2>/dev/null | head -n 6 | tr '\n' ','
	echo
	printf '  * lamina: %s sandboxes up in %s ms, torn down in %s ms; MemAvailable drift across a round: %s KiB\n' \
		"$IDLE" "$(kv idle_lamina_$IDLE_ROUNDS start_all_ms)" "$(kv idle_lamina_$IDLE_ROUNDS teardown_ms)" \
		"$(rounds idle_lamina drift_kib | xargs)"
fi
if [ "${BENCH_PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
	echo
	echo "  where a pooled lamina spawn's time goes (perf trace; tests/bench/profile_spawn.py):"
	python3 "$HERE/profile_spawn.py" "$BUILD" 300 -- --pool "$POOL" 2>&1 | sed 's/^/    /'
elif [ -n "$FR" ] && ! calc "exit !($FR <= $TARGET_FLOOR_RATIO)"; then
	echo
	echo "  for where the time goes: BENCH_PROFILE=1 $0 $BUILD (or tests/bench/profile_spawn.py $BUILD)"
fi
echo
echo "  MemAvailable is system-wide: other activity on the host during the run shows up here."
# laminad's invoke path, beside its own floors.
"$HERE/invoke.sh" "$BUILD" || FAILED=1
# What the eBPF probes cost (same daemon with and without them) and how exact they are.
"$HERE/metering.sh" "$BUILD" || FAILED=1
# Each language's cold start beside its interpreter's bare start.
"$HERE/coldstart.sh" "$BUILD" || FAILED=1
echo
echo "  total time: $(($(date +%s) - START)) s"
[ $FAILED = 0 ] || log "run.sh: some measurements failed (see above)"
exit $FAILED
