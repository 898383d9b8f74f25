#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12's apt (and npm where a test needs it),
# only what is missing. Run as root (or with sudo available).
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  googletest libgtest-dev libbenchmark-dev
  mosquitto mosquitto-clients python3 python3-paho-mqtt python3-pytest
  openssl curl procps iproute2 util-linux gnuplot-nox valgrind
  chromium
)
# Node.js and npm (MQTT.js and the browser test): Debian's, unless a node with npm is already
# installed (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi

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

# MQTT.js and playwright-core, pinned by tests/js/package-lock.json; again only when the lock
# file changed since the last install (npm keeps its own copy in node_modules).
JS_DIR="$(cd "$(dirname "$0")/../tests/js" && pwd)"
if [ ! -f "$JS_DIR/node_modules/.package-lock.json" ] ||
   [ "$JS_DIR/package-lock.json" -nt "$JS_DIR/node_modules/.package-lock.json" ]; then
  echo "deps: npm ci in tests/js"
  npm ci --prefix "$JS_DIR" --no-audit --no-fund --loglevel=error
fi
echo "deps: ok"
