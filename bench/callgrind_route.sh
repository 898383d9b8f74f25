#!/usr/bin/env bash
# Instructions per message on the parse → route → serialize path (bench/route_path.cpp), from
# two callgrind runs whose difference cancels the setup (10,000 subscriptions).
#   bench/callgrind_route.sh [build/release/bench/bench_route_path]
set -euo pipefail
bin=${1:-build/release/bench/bench_route_path}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count 1000)
b=$(count 11000)
echo "instructions per message: $(( (b - a) / 10000 )) (Ir $a for 1000, $b for 11000)"
