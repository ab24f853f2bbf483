#!/usr/bin/env bash
# Installs the Debian packages lamina builds and tests with, when missing. Idempotent:
# a machine that has them all does nothing (and needs no network).
set -euo pipefail

packages=(
	gcc make pkg-config libc6-dev
	libseccomp-dev libcap-dev libjansson-dev libsqlite3-dev uuid-dev libhttp-parser-dev libssl-dev
	libcmocka-dev python3 python3-pytest
	clang llvm libbpf-dev bpftool libarchive-dev zip python3-prometheus-client
	mono-devel golang-go
	# the java17 runtime is built and run with Debian's JDK 17 (JAVA17_HOME), whatever
	# other java is on PATH
	openjdk-17-jdk-headless
)
# Interpreters the sandbox must be able to run (tests start each one inside).
declare -A commands=( [node]=nodejs )

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
for c in "${!commands[@]}"; do
	command -v "$c" >/dev/null 2>&1 || missing+=("${commands[$c]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
