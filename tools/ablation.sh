#!/usr/bin/env bash
# `make ablation-experiment` (issue 26): the paper's main comparison on our data, from nothing:
#   corpus (version CORPUS_VERSION) → preprocess → sync encoder → lip units → A2L pretraining
#   (+ its window curve) → for each seed, L2F with A2L lip units and L2F with the 0.2 s window
#   encoder, side by side with the same seed, data and steps → held-out evaluation of the kept
#   checkpoints of the last third of training → the paired table (`cals experiment ablation-summary`).
# One more L2F run each with --no-dav and --no-dvv (A2L, the first seed).
#
# ABL_SCALE=full (sized for 2.5 h on 2 cores, see the README's budget table) or tiny (the same chain
# with a few steps, to prove the plumbing in minutes). Every stage's output folder is named by a key,
# a hash of its flags and of its inputs' keys: a re-run skips finished stages (marked by .done),
# continues a killed training run from its checkpoint (--resume) and redoes the rest; changing a
# stage's flags makes new folders for it and the stages after it. CPU seconds (user, sys) and wall
# seconds of every command go to ROOT/times.tsv.
set -euo pipefail
CALS=${CALS:-.build/release/cals}
SCALE=${ABL_SCALE:-full}
CORPUS_VERSION=${CORPUS_VERSION:-3}
SEEDS=${ABL_SEEDS:-1 2 3 4 5}
ROOT=${ABL_ROOT:-runs/ablation-$SCALE}
MANIFEST=${MANIFEST:-manifests/demo.yaml}
FACES=${FACES:-data/faces}

# The L2F widths and frames are the demo's (the default widths cost about 4x more per step).
L2F_SIZE="--widths 8,16,32,64,64 --batch 2 --frames 5 --learning-rate 1e-3 --sync-weight 0.1"
# --scored-steps all: L2F runs A2L on audio without gaps, at steps a masked-only loss never trains
# (docs/ablation-diagnosis.md).
A2L_SIZE="--layers 2 --dim 128 --heads 4 --ff 512 --batch 16 --frames 31 --scored-steps all"
case $SCALE in
  full)
    CORPUS_ARGS="--speakers 16 --clips 20 --seconds 4"
    HELD_OUT=2                  # the last speakers (sorted), held out of every training run
    SYNC_ARGS="--steps 4000 --checkpoint-every 500 --eval-every 500 --loss-offsets 15 --exclude-near 2 --cosine-decay"
    A2L_ARGS="$A2L_SIZE --steps 30000 --checkpoint-every 1000 --warmup 100 --eval-every 2000"
    L2F_STEPS=3000; KEEP_EVERY=250
    CONTEXT_WINDOWS=120 ;;     # every held-out window: 40 clips × 3 windows of 31 frames
  tiny)
    CORPUS_ARGS="--speakers 3 --clips 4 --seconds 4"
    HELD_OUT=1
    SYNC_ARGS="--steps 20 --eval-every 10 --loss-offsets 15 --exclude-near 2 --cosine-decay"
    A2L_ARGS="$A2L_SIZE --steps 20 --warmup 5 --eval-every 10"
    L2F_STEPS=12; KEEP_EVERY=2
    CONTEXT_WINDOWS=16 ;;
  *) echo "ABL_SCALE must be full or tiny, got $SCALE" >&2; exit 2 ;;
esac
L2F_ARGS="$L2F_SIZE --steps $L2F_STEPS --keep-every $KEEP_EVERY --checkpoint-every $KEEP_EVERY --grid-every $L2F_STEPS"

mkdir -p "$ROOT"
TIMES=$ROOT/times.tsv
[ -f "$TIMES" ] || printf 'stage\tuser_s\tsys_s\twall_s\n' > "$TIMES"

# The first 10 hex digits of the SHA-256 of the arguments: a stage's key.
key() { printf '%s\n' "$@" | sha256sum | cut -c1-10; }
# Runs a command, appending its CPU and wall seconds to times.tsv under the label $1.
timed() { local label=$1; shift; /usr/bin/time -f "$label	%U	%S	%e" -a -o "$TIMES" "$@"; }
# --resume when the run folder $1 holds a checkpoint.
resume_flag() { [ -f "$1/checkpoint.safetensors" ] && echo --resume || echo --fresh; }

# 1. Corpus: generated into a temporary folder and renamed when complete.
corpus_key=$(key corpus "$CORPUS_ARGS" "$CORPUS_VERSION")
DATA=data/raw/ablation-$corpus_key
if [ ! -d "$DATA" ]; then
  rm -rf "$DATA.partial"
  timed corpus "$CALS" demo-corpus --out "$DATA.partial" --faces "$FACES" $CORPUS_ARGS --corpus-version "$CORPUS_VERSION"
  mv "$DATA.partial" "$DATA"
fi
held_out=$(ls "$DATA" | sort | tail -n "$HELD_OUT" | paste -sd, -)
echo "ablation ($SCALE): corpus $DATA (version $CORPUS_VERSION), held-out speakers $held_out"

# 2. Preprocess (the pipeline's ledger skips finished items and stages).
OUT=data/processed/ablation-$corpus_key
timed preprocess "$CALS" preprocess "$MANIFEST" --data "$DATA" --out "$OUT"

# 3. Sync encoder, 4. its lip units (keyed by the checkpoint's content inside OUT).
SYNC=$ROOT/sync-$(key "$corpus_key" "$SYNC_ARGS" "$held_out")
if [ ! -f "$SYNC/.done" ]; then
  timed sync "$CALS" train sync --data "$OUT" --out "$SYNC" $(resume_flag "$SYNC") --held-out "$held_out" $SYNC_ARGS
  touch "$SYNC/.done"
fi
timed lip-units "$CALS" preprocess "$MANIFEST" --data "$DATA" --out "$OUT" --lip-units "$SYNC/checkpoint.safetensors"

# 5. A2L pretraining and its window curve.
A2L=$ROOT/a2l-$(key "$SYNC" "$A2L_ARGS")
if [ ! -f "$A2L/.done" ]; then
  timed a2l "$CALS" train a2l --data "$OUT" --out "$A2L" $(resume_flag "$A2L") --held-out "$held_out" \
    --sync-checkpoint "$SYNC/checkpoint.safetensors" $A2L_ARGS
  touch "$A2L/.done"
fi
if [ ! -f "$A2L/context/context.json" ]; then
  timed context "$CALS" experiment context --checkpoint "$A2L/checkpoint.safetensors" --data "$OUT" \
    --sync-checkpoint "$SYNC/checkpoint.safetensors" --windows "$CONTEXT_WINDOWS"
fi

# 6. L2F runs (one thread each, two at a time) and 7. the held-out evaluation of each kept
# checkpoint past two thirds of the steps, as RUN/eval-<step>.json.
# The A2L arms keep the pretrained A2L fixed: at the generator's learning rate its units lose all
# relation to the true lip units within 250 steps (docs/ablation-diagnosis.md).
A2L_FLAGS="--audio-encoder a2l --a2l $A2L --freeze-a2l"
L2F=$ROOT/l2f-$(key "$A2L" "$L2F_ARGS" "$A2L_FLAGS")
first_scored=$(( L2F_STEPS * 2 / 3 + 1 ))
l2f_run() {   # arm seed extra-flags…
  local arm=$1 seed=$2; shift 2
  local run=$L2F/$arm-s$seed
  if [ ! -f "$run/.done" ]; then
    timed "l2f $arm" "$CALS" train l2f --data "$OUT" --sync "$SYNC" --out "$run" $(resume_flag "$run") \
      --held-out "$held_out" --seed "$seed" --threads 1 $L2F_ARGS "$@"
    touch "$run/.done"
  fi
  for (( step = (first_scored + KEEP_EVERY - 1) / KEEP_EVERY * KEEP_EVERY; step <= L2F_STEPS; step += KEEP_EVERY )); do
    local eval=$run/eval-$step.json baselines=--no-baselines
    [ "$step" -lt "$L2F_STEPS" ] || baselines=--baselines   # the copy and real-video rows, once a run
    [ -f "$eval" ] || timed "eval $arm" "$CALS" eval l2f --checkpoint "$(printf '%s/checkpoint-%06d.safetensors' "$run" "$step")" \
      --sync "$SYNC" --data "$OUT" --split all --speakers "$held_out" --threads 1 $baselines --json "$eval" > /dev/null
  done
}
# Runs two l2f_run calls side by side (arguments split at "--"); waits for both, fails if either does.
pair() {
  local left=() right=() status=0
  while [ "$1" != -- ]; do left+=("$1"); shift; done; shift; right=("$@")
  l2f_run "${left[@]}" & local a=$!
  l2f_run "${right[@]}" & local b=$!
  wait $a || status=1
  wait $b || status=1
  return $status
}
for seed in $SEEDS; do
  pair a2l "$seed" $A2L_FLAGS -- window "$seed" --audio-encoder window
done
first_seed=${SEEDS%% *}
pair no-dav "$first_seed" $A2L_FLAGS --no-dav -- no-dvv "$first_seed" $A2L_FLAGS --no-dvv

# 8. The table.
"$CALS" experiment ablation-summary --runs "$L2F" --json "$L2F/summary.json" | tee "$L2F/summary.md"
echo "window curve: $A2L/context/window-curve.png; runs: $L2F; CPU and wall seconds per command: $TIMES"
