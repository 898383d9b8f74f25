#!/usr/bin/env bash
# Installs what is missing, builds everything under ASan+UBSan, and runs every test:
# unit and conformance (ctest; the store contracts on SQLite and on a PostgreSQL the test starts),
# integration against the real server with real clients (pytest; on SQLite, then on PostgreSQL),
# and a bounded libFuzzer run of each parser (MQTT, thing models, Alink, API paths, PROXY header).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps-test.sh

echo "== formatting (.clang-format)"
scripts/format.sh --check

preset=${THINGPORT_TEST_PRESET:-asan}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== unit and conformance tests"
ctest --preset "$preset" -j "$(nproc)"

echo "== integration tests"
THINGPORT_BIN="$PWD/build/$preset/src/app/thingport" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The same suite with identity and thing data in PostgreSQL ([store] backend = "postgres"), on a
# PostgreSQL 15 the run starts itself (tests/integration/pgserver.py).
echo "== integration tests on PostgreSQL"
THINGPORT_TEST_STORE=postgres THINGPORT_BIN="$PWD/build/$preset/src/app/thingport" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

if [ "${THINGPORT_SKIP_FUZZ:-0}" != 1 ] && [ -f tests/fuzz/CMakeLists.txt ]; then
  echo "== fuzzing the parser for ${THINGPORT_FUZZ_SECONDS:-30} s"
  scripts/fuzz.sh "${THINGPORT_FUZZ_SECONDS:-30}"
fi
echo "== all tests passed"
