#!/usr/bin/env bash
# `cals dub` speed: frames dubbed per second of wall time on a 720p 30 fps talking-face clip
# (bench/make_clip.sh) dubbed with its own speech, at the demo's generator widths (the L2F run
# of `make demo`) and at the default widths (a 1-step L2F run made here from the demo's sync and
# A2L runs and data: speed does not depend on training), against real time (25 frames/s), with
# the time per part that `cals dub` prints and the floor under it, decoding + face tracking alone
# (`cals bench floor --track`). There is no Python reference for dubbing. Each run's table is kept
# in bench/out/dub.txt and the previous one is printed below the new one. Wall time depends on
# what else runs; CPU time (user + sys) less so, hence frames per CPU second too. With
# CALS_BEFORE=<another cals binary> each case also runs with that one, right after, so a change
# is compared in the same minutes of machine load (rows marked "before").
# Usage: bench/dub.sh [demo L2F run] [seconds] [threads]   (run from the repository root after `make demo`)
set -euo pipefail
CALS=${CALS:-.build/release/cals}; CALS_BEFORE=${CALS_BEFORE:-}
RUN=${1:-runs/demo/l2f}; SECS=${2:-10}; THREADS=${3:-2}
DEMO=$(dirname "$RUN"); DATA=${DATA:-data/processed/demo}
[ -f "$RUN/checkpoint.safetensors" ] || { echo "bench/dub.sh: no L2F run in $RUN (make demo makes runs/demo/l2f)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bench/make_clip.sh "$out/clip.mp4" "$SECS"
"$CALS" train l2f --data "$DATA" --sync "$DEMO/sync" --a2l "$DEMO/a2l" --out "$out/l2f-default" --steps 1 \
  --widths 16,32,64,128,128 --grid-every 1 > "$out/train.log" 2>&1 || { cat "$out/train.log" >&2; exit 1; }
# A command substitution, not `< <(…)`: bash reaps a process substitution's child later, and its
# CPU time then counted in the first case's `time`.
read -r floor_frames floor_s <<< "$("$CALS" bench floor "$out/clip.mp4" --track)"

TIMEFORMAT='%3R %3U %3S'
table="$out/table"
{
  printf 'cals dub, 720p 30 fps clip (%s s), %d threads (load %s), %s\n' "$SECS" "$THREADS" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -u +%FT%TZ)"
  printf '%-28s %7s %8s %8s %10s %12s %14s\n' "case" "frames" "wall s" "cpu s" "frames/s" "x real time" "frames/cpu s"
} > "$table"
parts=""
cases=("demo widths:$RUN:$CALS" "default widths:$out/l2f-default:$CALS")
[ -z "$CALS_BEFORE" ] || cases=("demo widths:$RUN:$CALS" "demo widths before:$RUN:$CALS_BEFORE"
  "default widths:$out/l2f-default:$CALS" "default widths before:$out/l2f-default:$CALS_BEFORE")
for case in "${cases[@]}"; do
  IFS=: read -r name run cals <<< "$case"
  { time "$cals" dub "$out/clip.mp4" --audio "$out/clip.mp4" --l2f "$run" --out "$out/dubbed.mp4" --threads "$THREADS" \
      > "$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }; } 2> "$out/time"
  frames=$(sed -n 's/^dubbed .*: \([0-9]*\) frames .*/\1/p' "$out/log")
  parts+="$name: $(grep '^time per part: ' "$out/log" | sed 's/^time per part: //')"$'\n'
  awk -v f="$frames" -v t="$(cat "$out/time")" -v name="dub, $name" 'BEGIN {
    split(t, a, " "); wall = a[1]; cpu = a[2] + a[3]
    printf "%-28s %7d %8.2f %8.2f %10.1f %12.2f %14.1f\n", name, f, wall, cpu, f / wall, f / wall / 25, f / cpu }' >> "$table"
done
awk -v ff="$floor_frames" -v fs="$floor_s" 'BEGIN {
  printf "%-28s %7d %8.2f %8s %10.1f %12.2f %14s\n", "floor: decode + track", ff, fs, "-", ff / fs, ff / fs / 25, "-" }' >> "$table"
printf 'time per part (wall s)\n%s' "$parts" >> "$table"
cat "$table"
mkdir -p bench/out
if [ -f bench/out/dub.txt ]; then printf '\nprevious run:\n'; cat bench/out/dub.txt; fi
cp "$table" bench/out/dub.txt
