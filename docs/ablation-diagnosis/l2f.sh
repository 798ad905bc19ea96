#!/usr/bin/env bash
# l2f.sh NAME SEED CALS_BIN extra-flags…: one L2F run at the ablation's full settings (tools/ablation.sh's
# L2F_ARGS) on the first full run's data and sync encoder in /root/abl2, and the evaluation of steps
# 2250…3000 (docs/ablation-diagnosis.md §2). Runs go to /work/wt-ablfix/runs/diag/NAME.
set -euo pipefail
cd /root/abl2   # its data/models has the landmark model (LMD); every path below is absolute, nothing is written here
name=$1 seed=$2 bin=$3; shift 3
A=/root/abl2; DATA=$A/data/processed/ablation-6a54e7dd82; SYNC=$A/runs/ablation-full/sync-6de7a0dbac
run=/work/wt-ablfix/runs/diag/$name
held=s15_astronaut,s16_matthew
[ -f $run/.done ] || { /usr/bin/time -f "$name train %U %S %e" -a -o /work/wt-ablfix/runs/diag/times.txt \
  $bin train l2f --data $DATA --sync $SYNC --out $run --fresh --held-out $held --seed $seed --threads 1 \
  --widths 8,16,32,64,64 --batch 2 --frames 5 --learning-rate 1e-3 --sync-weight 0.1 \
  --steps 3000 --keep-every 250 --checkpoint-every 250 --grid-every 3000 "$@" > $run.log 2>&1; touch $run/.done; }
for step in ${EVAL_STEPS:-2250 2500 2750 3000}; do
  [ -f $run/eval-$step.json ] || $bin eval l2f --checkpoint $(printf '%s/checkpoint-%06d.safetensors' $run $step) \
    --sync $SYNC --data $DATA --split all --speakers $held --threads 1 --json $run/eval-$step.json > /dev/null
done
echo "$name done"
