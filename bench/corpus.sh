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
TIMEFORMAT='%3U %3S'
{ time "$CALS" demo-corpus --out "$out/demo" --speakers "$SPEAKERS" --clips "$CLIPS" \
    --seconds "$SECONDS_PER_CLIP" --threads "$THREADS" > /dev/null 2> "$out/log" \
    || { cat "$out/log" >&2; exit 1; }; } 2> "$out/cpu"
end=$(date +%s.%N)
bytes=$(du -sb "$out/demo" | cut -f1)
# Wall time depends on what else runs (other builds); CPU time (user + sys) does not, so the
# table also gives video seconds per CPU second: x real time on one idle core.
awk -v s="$start" -v e="$end" -v n="$SPEAKERS" -v c="$CLIPS" -v l="$SECONDS_PER_CLIP" -v t="$THREADS" \
    -v b="$bytes" -v cpu="$(awk '{ print $1 + $2 }' "$out/cpu")" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  video = n * c * l; wall = e - s
  printf "%-26s %8s %8s %8s %12s %12s %7s %6s\n", "demo-corpus", "video s", "wall s", "cpu s", "x real time", "x per core", "MB", "load"
  printf "%-26s %8.0f %8.2f %8.2f %12.1f %12.1f %7.1f %6.1f\n", n "x" c " clips, " t " threads", video, wall, cpu, video / wall, video / cpu, b / 1e6, load }'
