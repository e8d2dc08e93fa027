#!/usr/bin/env bash
# Runs the whole test suite: installs the system packages the tests use
# (idempotently), builds, runs every test, and prints one summary.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?

passed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ - | bc)
failed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | paste -sd+ - | bc)
ignored=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) ignored.*/\1/' | paste -sd+ - | bc)
echo
echo "SUMMARY: ${passed:-0} passed, ${failed:-0} failed, ${ignored:-0} ignored (exit $status)"
exit $status
