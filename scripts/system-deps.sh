#!/usr/bin/env bash
# Install the system tools acb uses (git, ripgrep, bubblewrap) when they are missing.
# As root with apt-get, install them; otherwise say exactly what to install. Only git is required
# to run the tests; ripgrep and bubblewrap make search faster and commands contained.
# `--browser` adds Chromium, which the dashboard's browser tests (make test-slow) drive.
set -euo pipefail

declare -A package_for=([git]=git [rg]=ripgrep [bwrap]=bubblewrap [make]=make [chromium]=chromium)
tools=(git rg bwrap)
[ "${1:-}" = "--browser" ] && tools+=(chromium)
missing=()
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package_for[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt (unattended upgrades, a second CI job) may hold dpkg's lock: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi

echo "acb: missing system packages: ${missing[*]}" >&2
echo "     install them with your package manager (e.g. sudo apt-get install ${missing[*]})" >&2
command -v git >/dev/null 2>&1 || { echo "acb: git is required" >&2; exit 1; }
