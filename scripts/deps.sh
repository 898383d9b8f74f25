#!/usr/bin/env bash
# Installs the build and runtime dependencies from Debian 12's apt, only what is missing.
# Test-only tools are installed by scripts/deps-test.sh (called from scripts/test.sh).
# Never stops, disables or kills anything already running on the machine.
# Run as root (or with sudo available). Extra arguments: more apt packages to ensure.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ clang libclang-rt-14-dev lld
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libpq-dev libnats-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  googletest libgtest-dev libbenchmark-dev
  openssl
  "$@"
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "deps: ok"
