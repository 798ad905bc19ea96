#!/usr/bin/env bash
# L2F training step (discriminator + generator with L1, GAN, d_av, d_vv through the frozen sync
# encoder), our engine vs PyTorch CPU, same models, batch and threads, measured in the same run
# alternating Swift and PyTorch. Run from the repo root after `make build` and `make python`.
#   bench/l2f_step.sh [--threads 2] [--rounds 2] [--steps 3] [--batch 2] [--frames 5]
# Prints median ms per step (best round of each side), the ratio Swift/PyTorch (target ≤ 1.2)
# and peak RSS.
set -euo pipefail
source "$(dirname "$0")/ab.sh"
ab_options THREADS=2 ROUNDS=2 STEPS=3 BATCH=2 FRAMES=5 -- "$@"
ARGS=(--batch "$BATCH" --frames "$FRAMES" --threads "$THREADS" --steps "$STEPS" --warmup 1)
ab_rounds l2f-step "$CALS" bench l2f-step "${ARGS[@]}" --json -- "$PY" bench/l2f_step.py "${ARGS[@]}"
"$PY" - "$AB_OUT" "$THREADS" "$BATCH" "$FRAMES" <<'PY'
import sys
sys.path.insert(0, "bench")
from harness import best_round
out, threads, batch, frames = sys.argv[1:]
s, t = best_round(out, "l2f-step", "swift"), best_round(out, "l2f-step", "torch")
print(f"L2F G+D step ({batch} windows x {frames} frames, 128x128, sync losses on) vs PyTorch "
      f"{__import__('torch').__version__}, {threads} threads (median ms per step, best of rounds)")
print(f"{'case':<9} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>8} {'swift MB':>9} {'torch MB':>9}")
print(f"{'l2f-step':<9} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
      f"{'<= 1.2':>8} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")
PY
