#!/usr/bin/env bash
# Installs the test-only dependencies (on top of scripts/deps.sh): reference brokers and clients,
# pytest, benchmark and profiling tools, a browser and Node for MQTT.js and the console test,
# HAProxy for the load-balancer (PROXY protocol) test, PostgreSQL 15 for the store tests on it
# (started by the tests themselves, as the postgres user, in temp dirs: the cluster Debian
# creates is never touched).
# Tests start their own brokers on free loopback ports: nothing already running is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_PACKAGES=(
  mosquitto mosquitto-clients python3 python3-paho-mqtt python3-pytest
  curl procps iproute2 util-linux gnuplot-nox valgrind clang-format
  chromium
  haproxy
  postgresql-15
  nats-server
)
# Node.js and npm (MQTT.js and the browser test): Debian's, unless a node with npm is already
# installed (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  TEST_PACKAGES+=(nodejs npm)
fi
scripts/deps.sh "${TEST_PACKAGES[@]}"

# MQTT.js and playwright-core, pinned by tests/js/package-lock.json; again only when the lock
# file changed since the last install (npm keeps its own copy in node_modules).
JS_DIR="$PWD/tests/js"
if [ ! -f "$JS_DIR/node_modules/.package-lock.json" ] ||
   [ "$JS_DIR/package-lock.json" -nt "$JS_DIR/node_modules/.package-lock.json" ]; then
  echo "deps: npm ci in tests/js"
  npm ci --prefix "$JS_DIR" --no-audit --no-fund --loglevel=error
fi
echo "deps-test: ok"
