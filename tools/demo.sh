#!/usr/bin/env bash
# `make demo`: the main job end to end on the generated demo corpus, with short training runs,
# ending with a dubbed video, a side-by-side video, an HTML report and a one-line verdict:
#   corpus → preprocess → sync encoder → lip units → A2L → L2F → eval (held-out speaker)
#   → dub.mp4 (the held-out speaker's clip with a new espeak-ng sentence) → side-by-side.mp4
#   (the same clip with its own speech: real | copy the reference | generated) → report.html
# The sizes below are the demo's; the end-to-end test runs the same script scaled down through
# these variables. Run from the repository root after `make build`.
set -euo pipefail
CALS=${CALS:-.build/release/cals}
DATA=${DATA:-data/raw/demo}
OUT=${OUT:-data/processed/demo}
RUNS=${RUNS:-runs/demo}
FACES=${FACES:-data/faces}
MANIFEST=${MANIFEST:-manifests/demo.yaml}
CORPUS_ARGS=${CORPUS_ARGS:---speakers 4 --clips 20 --seconds 4}
SYNC_ARGS=${SYNC_ARGS:---steps 200 --eval-every 100}
A2L_ARGS=${A2L_ARGS:---steps 200 --layers 2 --dim 128 --heads 4 --ff 512 --batch 16 --warmup 20 --eval-every 100}
L2F_ARGS=${L2F_ARGS:---steps 300 --widths 8,16,32,64,64 --learning-rate 1e-3 --sync-weight 0.15 --grid-every 100 --checkpoint-every 100}
# A sentence no demo speaker says (the corpus speaks word lists), in a voice none of them has.
SENTENCE=${SENTENCE:-"Please bring the blue book to the kitchen before seven."}
VOICE=${VOICE:-en-us+f3}

# Runs a step and says how long it took (the demo's time budget is spent here).
step() {
  local start=$SECONDS
  "$@"
  echo "demo: $(( SECONDS - start )) s: ${*:2:2}"
}

[ -d "$DATA" ] || step "$CALS" demo-corpus --out "$DATA" --faces "$FACES" $CORPUS_ARGS
step "$CALS" preprocess "$MANIFEST" --data "$DATA" --out "$OUT"
# The last speaker (sorted) is held out of every training run (the trainers' default), and its
# last clip is the one dubbed.
held_out=$(ls "$DATA" | sort | tail -n 1)
clip=$(ls "$DATA/$held_out"/*.mp4 | sort | tail -n 1)
step "$CALS" train sync --data "$OUT" --out "$RUNS/sync" --fresh --held-out "$held_out" $SYNC_ARGS
step "$CALS" preprocess "$MANIFEST" --data "$DATA" --out "$OUT" --lip-units "$RUNS/sync/checkpoint.safetensors"
step "$CALS" train a2l --data "$OUT" --out "$RUNS/a2l" --fresh --held-out "$held_out" \
  --sync-checkpoint "$RUNS/sync/checkpoint.safetensors" $A2L_ARGS
step "$CALS" train l2f --data "$OUT" --sync "$RUNS/sync" --a2l "$RUNS/a2l" --out "$RUNS/l2f" --fresh \
  --held-out "$held_out" $L2F_ARGS
step "$CALS" eval l2f --checkpoint "$RUNS/l2f" --sync "$RUNS/sync" --data "$OUT" --speakers "$held_out" --split all \
  --json "$RUNS/l2f/eval.json"
espeak-ng -v "$VOICE" -w "$RUNS/speech.wav" "$SENTENCE"
step "$CALS" dub "$clip" --audio "$RUNS/speech.wav" --l2f "$RUNS/l2f" --manifest "$MANIFEST" --out "$RUNS/dub.mp4"
step "$CALS" dub "$clip" --audio "$clip" --l2f "$RUNS/l2f" --manifest "$MANIFEST" --side-by-side --out "$RUNS/side-by-side.mp4"
"$CALS" status --out "$OUT"
echo "demo runs (checkpoints, logs, plots, grids, videos) are in $RUNS/"
echo "demo: $SECONDS s in all"
"$CALS" demo-report "$RUNS"
