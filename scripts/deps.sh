#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12's apt (and npm where a test needs it),
# only what is missing. Run as root (or with sudo available).
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  googletest libgtest-dev libbenchmark-dev
  mosquitto mosquitto-clients python3 python3-paho-mqtt python3-pytest
  openssl curl procps iproute2
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
# Debian starts a system mosquitto on 1883 when the package is installed; our tests and benches
# start their own brokers on free ports, and `thingport serve` wants 1883.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
pkill -x mosquitto 2>/dev/null || true
echo "deps: ok"
