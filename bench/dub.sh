#!/usr/bin/env bash
# `cals dub` speed: frames dubbed per second of wall time on a 720p 30 fps talking-face clip
# (bench/make_clip.sh) dubbed with its own speech, against real time (25 frames/s) and against the
# floor under it, decoding + face tracking alone (`cals bench floor --track`). There is no Python
# reference for dubbing, so the table compares with real time. Needs a trained L2F run (default
# runs/demo/l2f from `make demo`). Run from the repository root after `make build`. Wall time
# depends on what else runs; CPU time (user + sys) less so, hence frames per CPU second too.
# Usage: bench/dub.sh [L2F run] [seconds] [threads]
set -euo pipefail
CALS=${CALS:-.build/release/cals}
RUN=${1:-runs/demo/l2f}; SECS=${2:-10}; THREADS=${3:-2}
[ -f "$RUN/checkpoint.safetensors" ] || { echo "bench/dub.sh: no L2F run in $RUN (make demo makes runs/demo/l2f)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bench/make_clip.sh "$out/clip.mp4" "$SECS"
read -r floor_frames floor_s < <("$CALS" bench floor "$out/clip.mp4" --track)
TIMEFORMAT='%3R %3U %3S'
{ time "$CALS" dub "$out/clip.mp4" --audio "$out/clip.mp4" --l2f "$RUN" --out "$out/dubbed.mp4" --threads "$THREADS" \
    > "$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }; } 2> "$out/time"
frames=$(sed -n 's/^dubbed .*: \([0-9]*\) frames .*/\1/p' "$out/log")
awk -v f="$frames" -v t="$(cat "$out/time")" -v ff="$floor_frames" -v fs="$floor_s" -v th="$THREADS" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" -v run="$RUN" 'BEGIN {
  split(t, a, " "); wall = a[1]; cpu = a[2] + a[3]
  printf "cals dub, 720p 30 fps clip, L2F run %s, %d threads (load %.1f)\n", run, th, load
  printf "%-22s %7s %8s %8s %10s %12s %14s\n", "case", "frames", "wall s", "cpu s", "frames/s", "x real time", "frames/cpu s"
  printf "%-22s %7d %8.2f %8.2f %10.1f %12.2f %14.1f\n", "dub (whole command)", f, wall, cpu, f / wall, f / wall / 25, f / cpu
  printf "%-22s %7d %8.2f %8s %10.1f %12.2f %14s\n", "floor: decode + track", ff, fs, "-", ff / fs, ff / fs / 25, "-" }'
