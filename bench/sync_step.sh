#!/usr/bin/env bash
# Sync-encoder training step, our engine vs PyTorch CPU, same model, batch and threads, measured
# in the same run alternating Swift and PyTorch. Run from the repo root after `make build` and
# `make python`.
#   bench/sync_step.sh [--threads 2] [--rounds 3] [--steps 5] [--batch 4] [--windows 8]
# Prints median ms per step (best round of each side), the ratio Swift/PyTorch (target ≤ 1.2)
# and peak RSS.
set -euo pipefail
THREADS=2 ROUNDS=3 STEPS=5 BATCH=4 WINDOWS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --windows) WINDOWS=$2; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--rounds N] [--steps N] [--batch N] [--windows N]" >&2; exit 2 ;;
  esac
done
CALS=${CALS:-.build/release/cals}
PY=${PY:-.venv/bin/python}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
ARGS=(--batch "$BATCH" --windows "$WINDOWS" --threads "$THREADS" --steps "$STEPS")
for r in $(seq "$ROUNDS"); do
  "$CALS" bench sync-step "${ARGS[@]}" --json >> "$OUT/swift"
  "$PY" bench/sync_step.py "${ARGS[@]}" >> "$OUT/torch"
done
"$PY" - "$OUT" "$THREADS" "$BATCH" "$WINDOWS" <<'PY'
import json, os, sys
out, threads, batch, windows = sys.argv[1:]
best = lambda side: min((json.loads(l) for l in open(os.path.join(out, side)) if l.strip()), key=lambda r: r["ms_per_step"])
s, t = best("swift"), best("torch")
print(f"sync-encoder step ({batch} clips x {windows} windows, +/-6 offsets) vs PyTorch "
      f"{__import__('torch').__version__}, {threads} threads (median ms per step, best of rounds)")
print(f"{'case':<10} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>8} {'swift MB':>9} {'torch MB':>9}")
print(f"{'sync-step':<10} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
      f"{'<= 1.2':>8} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")
PY
