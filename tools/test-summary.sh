#!/usr/bin/env bash
# Prints the plain closing line `N passed, N failed, N skipped` from an XCTest log: the last
# "Executed N tests, with [S tests skipped and] F failures" line is the suite's total of tests.
set -euo pipefail
log=$1
total=$(grep -E 'Executed [0-9]+ tests?, with ' "$log" | tail -n 1 || true)
if [ -z "$total" ]; then echo "no XCTest total in $log (the build or the test run failed)" >&2; exit 1; fi
n=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$total")
# The total's "F failures" counts failed assertions; a failed test is one "Test Case '…' failed" line.
f=$(grep -cE "^Test Case '.*' failed" "$log" || true)
s=0
if grep -qE '[0-9]+ tests? skipped' <<<"$total"; then s=$(sed -E 's/.* ([0-9]+) tests? skipped.*/\1/' <<<"$total"); fi
echo "$((n - f - s)) passed, $f failed, $s skipped"
