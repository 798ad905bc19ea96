#!/usr/bin/env bash
# Sync-encoder training step, our engine vs PyTorch CPU, same model, batch and threads, measured
# in the same run alternating Swift and PyTorch. Run from the repo root after `make build` and
# `make python`.
#   bench/sync_step.sh [--threads 2] [--rounds 3] [--steps 5] [--batch 4] [--windows 8]
#   (or the same as environment variables: THREADS=2 … bench/sync_step.sh)
# Prints median ms per step (best round of each side), the ratio Swift/PyTorch (target ≤ 1.2)
# and peak RSS.
set -euo pipefail
source "$(dirname "$0")/ab.sh"
ab_options THREADS=2 ROUNDS=3 STEPS=5 BATCH=4 WINDOWS=8 -- "$@"
ARGS=(--batch "$BATCH" --windows "$WINDOWS" --threads "$THREADS" --steps "$STEPS")
ab_rounds sync-step "$CALS" bench sync-step "${ARGS[@]}" --json -- "$PY" bench/sync_step.py "${ARGS[@]}"
"$PY" - "$AB_OUT" "$THREADS" "$BATCH" "$WINDOWS" <<'PY'
import sys
sys.path.insert(0, "bench")
from harness import best_round
out, threads, batch, windows = sys.argv[1:]
s, t = best_round(out, "sync-step", "swift"), best_round(out, "sync-step", "torch")
print(f"sync-encoder step ({batch} clips x {windows} windows, +/-6 offsets) vs PyTorch "
      f"{__import__('torch').__version__}, {threads} threads (median ms per step, best of rounds)")
print(f"{'case':<10} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>8} {'swift MB':>9} {'torch MB':>9}")
print(f"{'sync-step':<10} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
      f"{'<= 1.2':>8} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")
PY
