#!/usr/bin/env bash
# Does `cals sync-score` find a known audio shift? For clips of the held-out speaker (the last
# speaker folder, sorted, as `cals train sync` holds out), delays (k > 0) or advances (k < 0) the
# audio by k video frames (40 ms each) with ffmpeg, scores the result and tabulates the reported
# offset against k for k in -5..5. Run from the repo root after `make build` and training.
#   bench/sync_shift.sh CHECKPOINT [RAW_DATA=data/raw/demo] [CLIPS=3]
set -euo pipefail
CKPT=${1:?usage: $0 CHECKPOINT [RAW_DATA] [CLIPS]}
RAW=${2:-data/raw/demo}
CLIPS=${3:-3}
CALS=${CALS:-.build/release/cals}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SPEAKER=$(find "$RAW" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)
printf '%-28s' "clip \\ k"; for k in $(seq -5 5); do printf '%5d' "$k"; done; echo
hits=0 total=0
for clip in $(find "$SPEAKER" -name '*.mp4' | sort | head -"$CLIPS"); do
  printf '%-28s' "$(basename "$(dirname "$clip")")/$(basename "$clip")"
  for k in $(seq -5 5); do
    ms=$(( (k < 0 ? -k : k) * 40 ))
    if [ "$k" -ge 0 ]; then filter="adelay=delays=${ms}:all=1"
    else filter="atrim=start=$(printf '0.%03d' "$ms"),asetpts=PTS-STARTPTS"; fi
    ffmpeg -hide_banner -loglevel error -y -i "$clip" -map 0:v -map 0:a -c:v copy -af "$filter" -c:a aac "$OUT/shifted.mp4"
    got=$("$CALS" sync-score "$OUT/shifted.mp4" --checkpoint "$CKPT" --json | sed -E 's/.*"offset": (-?[0-9]+).*/\1/')
    printf '%5s' "$got"
    total=$((total + 1)); d=$((got - k)); [ "${d#-}" -le 1 ] && hits=$((hits + 1))
  done
  echo
done
echo "reported offset within k ± 1: $hits / $total (offset k: audio late by k frames; scores from our sync encoder)"
