#!/usr/bin/env bash
# av_sync throughput (issue 24): items/s and rows/s of the av_sync stage, and its share of a
# whole preprocess run (the item stages, then av_sync), on demo-corpus clips. The encoder is a
# full-size one (the default `cals train sync` config) after one step: weights do not change
# the speed. Run from the repo root after `make build`:
#   bench/av_sync.sh [SPEAKERS=2] [CLIPS=6] [SECONDS=8]
set -euo pipefail
CALS=${CALS:-.build/release/cals}
SPEAKERS=${1:-2}
CLIPS=${2:-6}
SECONDS_PER_CLIP=${3:-8}
WORK=$(mktemp -d /tmp/cals-bench-av-sync.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
now() { date +%s.%N; }

"$CALS" demo-corpus --out "$WORK/corpus" --speakers "$SPEAKERS" --clips "$CLIPS" --seconds "$SECONDS_PER_CLIP" \
  --faces data/faces > /dev/null 2>&1
t0=$(now)
"$CALS" preprocess manifests/demo.yaml --data "$WORK/corpus" --out "$WORK/out" > /dev/null 2>&1
t_items=$(echo "$(now) - $t0" | bc)
"$CALS" train sync --data "$WORK/out" --out "$WORK/sync" --steps 1 > /dev/null 2>&1
sed 's|^  - shard: {}$|  - shard: {}\n  - av_sync: {checkpoint: '"$WORK"'/sync/checkpoint.safetensors}|' manifests/demo.yaml > "$WORK/m.yaml"
# The item stages are up to date: this run is av_sync alone.
t0=$(now)
"$CALS" preprocess "$WORK/m.yaml" --data "$WORK/corpus" --out "$WORK/out" > "$WORK/run.txt" 2>&1
t_sync=$(echo "$(now) - $t0" | bc)
grep -q "av_sync: scored" "$WORK/run.txt" || { cat "$WORK/run.txt"; exit 1; }
items=$((SPEAKERS * CLIPS))
rows=$("$CALS" status --out "$WORK/out" | sed -nE 's/.* ([0-9]+) rows are current outputs/\1/p')
echo "items: $items clips of $SECONDS_PER_CLIP s ($rows rows); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "preprocess (decode, face, mel, align, shard): $(printf %.1f "$t_items") s"
echo "av_sync: $(printf %.1f "$t_sync") s = $(echo "scale=2; $items / $t_sync" | bc) items/s, $(echo "scale=0; $rows / $t_sync" | bc) rows/s"
echo "av_sync share of the whole run: $(echo "scale=1; 100 * $t_sync / ($t_items + $t_sync)" | bc)%"
