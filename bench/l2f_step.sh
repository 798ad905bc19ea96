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
"$PY" bench/harness.py ab-table "$AB_OUT" l2f-step "<= 1.2" \
  "L2F G+D step ($BATCH windows x $FRAMES frames, 128x128, sync losses on), $THREADS threads"
