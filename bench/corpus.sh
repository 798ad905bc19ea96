#!/usr/bin/env bash
# Demo-corpus generation speed: seconds of video made per second of wall time (target >= 5x
# real time on 2 cores). There is no Python reference for this generator, so the table compares
# against real time. Run from the repository root after `make build` and `make faces`.
# Usage: bench/corpus.sh [speakers] [clips per speaker] [seconds per clip] [threads]
set -euo pipefail
CALS=${CALS:-.build/release/cals}
SPEAKERS=${1:-4}; CLIPS=${2:-5}; SECONDS_PER_CLIP=${3:-4}; THREADS=${4:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
"$CALS" demo-corpus --out "$out/demo" --speakers "$SPEAKERS" --clips "$CLIPS" \
  --seconds "$SECONDS_PER_CLIP" --threads "$THREADS" > /dev/null 2> "$out/log" || { cat "$out/log"; exit 1; }
end=$(date +%s.%N)
bytes=$(du -sb "$out/demo" | cut -f1)
awk -v s="$start" -v e="$end" -v n="$SPEAKERS" -v c="$CLIPS" -v l="$SECONDS_PER_CLIP" -v t="$THREADS" -v b="$bytes" 'BEGIN {
  video = n * c * l; wall = e - s
  printf "%-28s %10s %10s %12s %10s\n", "demo-corpus", "video s", "wall s", "x real time", "MB"
  printf "%-28s %10.0f %10.2f %12.1f %10.1f\n", n "x" c " clips, " t " threads", video, wall, video / wall, b / 1e6 }'
