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
"$PY" bench/harness.py ab-table "$AB_OUT" sync-step "<= 1.2" \
  "sync-encoder step ($BATCH clips x $WINDOWS windows, +/-6 offsets), $THREADS threads"
