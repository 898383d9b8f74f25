#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) over the kept
# corpus. A crash fails the run and leaves its input in tests/fuzz/ (keep it as a regression).
set -euo pipefail
cd "$(dirname "$0")/.."
# `scripts/fuzz.sh --build-only` builds the targets and stops (scripts/test.sh builds them while
# the integration tests run); THINGPORT_FUZZ_JOBS: parallel compiles (default: one per core).
secs=${1:-60}
cmake --preset fuzz >/dev/null
# Only the fuzz targets: the rest of the tree is built (and tested) by the asan preset.
targets=(fuzz_parser fuzz_tsl fuzz_alink fuzz_api fuzz_proxy fuzz_session_wire)
cmake --build --preset fuzz -j "${THINGPORT_FUZZ_JOBS:-$(nproc)}" --target "${targets[@]}"
[ "$secs" != --build-only ] || exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run_target() {
  local name=$1 f seeds regressions
  f=build/fuzz/tests/fuzz/$name
  # Each target's own seeds when it has them (corpus_tsl for fuzz_tsl), else the MQTT corpus.
  seeds=tests/fuzz/corpus_${name#fuzz_}
  [ -d "$seeds" ] || seeds=tests/fuzz/corpus
  regressions=tests/fuzz/regressions
  case "$name" in
    fuzz_tsl|fuzz_alink) regressions=tests/fuzz/regressions_thing ;;
    fuzz_api) regressions=tests/fuzz/regressions_api ;;
    fuzz_proxy) regressions=tests/fuzz/regressions_proxy ;;
    fuzz_session_wire) regressions=tests/fuzz/corpus_session_wire ;; # no crash kept yet
  esac
  cp -r "$seeds" "$work/$name"
  "$f" -max_total_time="$secs" -max_len=4096 -artifact_prefix="tests/fuzz/crash-$name-" \
    "$work/$name" "$regressions" >"$work/$name.log" 2>&1
}
# Each target is single-threaded: run as many at a time as there are cores.
lanes=$(nproc)
running=0
for name in "${targets[@]}"; do
  if [ "$running" -ge "$lanes" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  (
    rc=0
    run_target "$name" || rc=$?
    echo "$rc" >"$work/$name.rc"
  ) &
  running=$((running + 1))
done
wait
failed=0
for name in "${targets[@]}"; do
  rc=$(cat "$work/$name.rc" 2>/dev/null || echo missing)
  echo "fuzz: $name for $secs s (exit $rc)"
  if [ "$rc" != 0 ]; then
    failed=1
    # The whole report (the check that failed, the stack) and the input, so a CI log reproduces it.
    grep -v -E '^#[0-9]+|^INFO: |^ *"' "$work/$name.log" | tail -60
    for crash in tests/fuzz/crash-"$name"-*; do
      [ -f "$crash" ] || continue
      echo "fuzz: $crash as base64 (decode it into a file and run build/fuzz/tests/fuzz/$name on it):"
      base64 -w 0 "$crash" | head -c 16384
      echo
    done
  else
    tail -3 "$work/$name.log"
  fi
done
exit "$failed"
