#!/usr/bin/env bash
# Installs what is missing, builds the release binary and starts the platform on the embedded
# defaults (MQTT on :1883, data in ./data). Extra arguments go to `thingport serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# THINGPORT_BIN: a thingport already built (the tests use it); otherwise the release build.
if [ -z "${THINGPORT_BIN:-}" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target thingport
  THINGPORT_BIN=build/release/src/app/thingport
fi
exec "$THINGPORT_BIN" serve "$@"
