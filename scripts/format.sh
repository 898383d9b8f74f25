#!/usr/bin/env bash
# Formats every C++ file of the tree with .clang-format (clang-format 14, Debian's), or with
# --check lists the files that differ and fails (run by scripts/test.sh, so CI keeps the tree
# formatted).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -ne 0 ]; then
    printf 'not formatted (run scripts/format.sh): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files ok"
else
  clang-format -i "${files[@]}"
fi
