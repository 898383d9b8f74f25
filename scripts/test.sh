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

# Integration: the suite against the real server with real clients, on SQLite and (identity and
# thing data in PostgreSQL, [store] backend = "postgres", on a PostgreSQL 15 the run starts
# itself: tests/integration/pgserver.py) on PostgreSQL. The two runs share nothing (every server,
# broker and database on its own free port and in its own temp dir) and mostly wait on sockets,
# so they run side by side; each one's output is printed when both are done.
echo "== integration tests (SQLite) and integration tests on PostgreSQL, side by side"
logs=$(mktemp -d)
# Meanwhile the fuzz targets are built (clang, one compile at a time, at the lowest priority: the
# tests keep the CPU they ask for). Run below, once the integration tests are done.
fuzz=0
if [ "${THINGPORT_SKIP_FUZZ:-0}" != 1 ] && [ -f tests/fuzz/CMakeLists.txt ]; then
  fuzz=1
  THINGPORT_FUZZ_JOBS=1 nice -n 19 scripts/fuzz.sh --build-only >"$logs/fuzz-build.log" 2>&1 &
  fuzz_build_pid=$!
fi
# One run of pytest into $logs/<log>.log, with the arguments given (the store: the caller's
# THINGPORT_TEST_STORE, unset for SQLite).
suite() {
  local log=$1
  shift
  THINGPORT_BIN="$PWD/build/$preset/src/app/thingport" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" >"$logs/$log.log" 2>&1
}
# The cluster tests (each starts its own NATS servers and PostgreSQL, on SQLite's settings) go
# after the PostgreSQL run instead of inside the SQLite one: the two sides then take about as
# long (SQLite alone took 585 s of the pair's wall time, PostgreSQL 365 s).
cluster=(tests/integration/test_cluster*.py)
suite sqlite tests/integration --ignore-glob='tests/integration/test_cluster*.py' &
sqlite_pid=$!
(
  rc=0
  THINGPORT_TEST_STORE=postgres suite postgres tests/integration || rc=$?
  suite cluster "${cluster[@]}" || rc=$?
  exit "$rc"
) &
pg_pid=$!
sqlite_rc=0 pg_rc=0
wait "$sqlite_pid" || sqlite_rc=$?
wait "$pg_pid" || pg_rc=$?
echo "== integration tests"
cat "$logs/sqlite.log"
echo "== integration tests on PostgreSQL"
cat "$logs/postgres.log"
echo "== integration tests of the cluster (SQLite settings, their own NATS and PostgreSQL)"
cat "$logs/cluster.log"
fuzz_build_rc=0
if [ "$fuzz" = 1 ]; then
  wait "$fuzz_build_pid" || fuzz_build_rc=$?
fi
if [ "$sqlite_rc" != 0 ] || [ "$pg_rc" != 0 ]; then
  echo "integration tests failed (SQLite: exit $sqlite_rc, PostgreSQL then cluster: exit $pg_rc)"
  rm -rf "$logs"
  exit 1
fi

if [ "$fuzz" = 1 ]; then
  echo "== building the fuzz targets (during the integration tests)"
  tail -5 "$logs/fuzz-build.log"
  [ "$fuzz_build_rc" = 0 ] || { cat "$logs/fuzz-build.log"; exit 1; }
  echo "== fuzzing the parser for ${THINGPORT_FUZZ_SECONDS:-30} s"
  scripts/fuzz.sh "${THINGPORT_FUZZ_SECONDS:-30}"
fi
rm -rf "$logs"
echo "== all tests passed"
