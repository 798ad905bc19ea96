#!/usr/bin/env bash
# A2L pretraining feed: windows per second the shard reader delivers (audio units + lip units +
# span masks, batch after batch) against windows per second one training step consumes, same data,
# sizes and threads. The reader must be faster (ratio > 1). Needs a processed dataset with lip
# units (the lip_units stage). Run from the repo root after `make build`.
#   bench/a2l_feed.sh [--data data/processed/demo] [--threads 2] [--batch 16] [--frames 31] [size flags…]
set -euo pipefail
DATA=data/processed/demo THREADS=2 BATCH=16 FRAMES=31 EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --frames) FRAMES=$2; shift 2 ;;
    --layers|--dim|--heads|--ff|--context|--sync-checkpoint) EXTRA+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--data DIR] [--threads N] [--batch N] [--frames T] [--layers/--dim/--heads/--ff/--context N]" >&2; exit 2 ;;
  esac
done
CALS=${CALS:-.build/release/cals}
"$CALS" bench a2l-feed --data "$DATA" --threads "$THREADS" --batch "$BATCH" --frames "$FRAMES" --steps 5 --warmup 1 \
  "${EXTRA[@]}" --json | python3 -c "
import json, sys
r = json.loads(sys.stdin.read())
print('A2L feed ($DATA, batch $BATCH x $FRAMES frames, $THREADS threads): windows per second')
print(f\"{'reader':>10} {'trainer':>10} {'ratio':>7} {'target':>7}\")
print(f\"{r['reader_windows_per_s']:>10.1f} {r['trainer_windows_per_s']:>10.1f} {r['reader_over_trainer']:>7.1f} {'> 1':>7}\")"
