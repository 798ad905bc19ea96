#!/usr/bin/env bash
# Preprocess runner benchmark (issue 4). Run from the repo root after `make build`:
#   bench/pipeline.sh [CLIPS] [SECONDS]
# 1. `cals preprocess` over CLIPS talking-face clips (720p, SECONDS long) against `cals extract`
#    on the same files one by one (target: preprocess time ≤ 1.1 × extract time, i.e. the runner
#    adds little; with 2 workers it should be faster).
#    The supervised worker processes against the same run in-process (`--in-process`, the
#    baseline: items on threads of the runner): overhead target ≤ 5%.
# 2. The no-change re-run over 1,000 items (target < 2 s).
set -euo pipefail
CALS=${CALS:-.build/release/cals}
CLIPS=${1:-6}
SECONDS_PER_CLIP=${2:-4}
FACE=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
WORK=$(mktemp -d /tmp/cals-bench-pipeline.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

manifest() {  # manifest FILE WORKERS
  cat > "$1" <<YAML
dataset: bench
adapter: {kind: folder}
stages: [decode: {}, face: {}, mel: {}, align: {}, shard: {}]
workers: $2
YAML
}
now() { date +%s.%N; }

mkdir -p "$WORK/data/spk"
for i in $(seq 1 "$CLIPS"); do
  ffmpeg -hide_banner -loglevel error -y -loop 1 -framerate 25 -t "$SECONDS_PER_CLIP" -i "$FACE" \
    -f lavfi -t "$SECONDS_PER_CLIP" -i "sine=frequency=$((200 + 40 * i)):sample_rate=16000" \
    -vf "scale=1400:1400,crop=1280:720:'60+40*sin(t*2)':60,format=yuv420p" \
    -c:v libx264 -preset ultrafast -r 25 -c:a aac -shortest "$WORK/data/spk/c$i.mp4"
done

t0=$(now)
for f in "$WORK"/data/spk/*.mp4; do "$CALS" extract "$f" --out "$WORK/$(basename "$f" .mp4).h5"; done
t_extract=$(echo "$(now) - $t0" | bc)
frames=$(${PYTHON:-.venv/bin/python} -c "import h5py,glob; print(sum(h5py.File(f,'r')['frames'].shape[0] for f in glob.glob('$WORK/*.h5')))")

for w in 1 2; do
  manifest "$WORK/m$w.yaml" $w
  t0=$(now)
  "$CALS" preprocess "$WORK/m$w.yaml" --data "$WORK/data" --out "$WORK/out$w" > /dev/null 2>&1
  declare "t_pre$w=$(echo "$(now) - $t0" | bc)"
  t0=$(now)
  "$CALS" preprocess "$WORK/m$w.yaml" --data "$WORK/data" --out "$WORK/in$w" --in-process > /dev/null 2>&1
  declare "t_in$w=$(echo "$(now) - $t0" | bc)"
done

# 1,000 short items (copies of one 0.4 s clip), processed once, then re-run with nothing changed.
mkdir -p "$WORK/many/spk"
ffmpeg -hide_banner -loglevel error -y -loop 1 -framerate 25 -t 0.4 -i "$FACE" \
  -f lavfi -t 0.4 -i sine=frequency=300:sample_rate=16000 -vf "scale=256:256,format=yuv420p" \
  -c:v libx264 -preset ultrafast -r 25 -c:a aac -shortest "$WORK/many/spk/c0000.mp4"
for i in $(seq 1 999); do cp "$WORK/many/spk/c0000.mp4" "$WORK/many/spk/c$(printf %04d "$i").mp4"; done
manifest "$WORK/many.yaml" 2
t0=$(now); "$CALS" preprocess "$WORK/many.yaml" --data "$WORK/many" --out "$WORK/many-out" > "$WORK/first.txt" 2>&1
t_first=$(echo "$(now) - $t0" | bc)
t0=$(now); "$CALS" preprocess "$WORK/many.yaml" --data "$WORK/many" --out "$WORK/many-out" > "$WORK/again.txt" 2>&1
t_again=$(echo "$(now) - $t0" | bc)
grep -q "up to date 1000" "$WORK/again.txt" || { echo "re-run did not find 1000 items up to date:"; cat "$WORK/again.txt"; exit 1; }

printf '%-44s %10s %12s %10s\n' "what ($CLIPS clips x ${SECONDS_PER_CLIP}s 720p, $frames face frames)" "seconds" "frames/s" "vs extract"
printf '%-44s %10.2f %12.1f %10s\n' "cals extract, one file at a time" "$t_extract" "$(echo "$frames / $t_extract" | bc -l)" "1.00"
printf '%-44s %10.2f %12.1f %10.2f\n' "cals preprocess, 1 worker" "$t_pre1" "$(echo "$frames / $t_pre1" | bc -l)" "$(echo "$t_pre1 / $t_extract" | bc -l)"
printf '%-44s %10.2f %12.1f %10.2f\n' "cals preprocess, 2 workers" "$t_pre2" "$(echo "$frames / $t_pre2" | bc -l)" "$(echo "$t_pre2 / $t_extract" | bc -l)"
printf '%-44s %10.2f %12.1f %10.2f\n' "cals preprocess --in-process, 1 thread" "$t_in1" "$(echo "$frames / $t_in1" | bc -l)" "$(echo "$t_in1 / $t_extract" | bc -l)"
printf '%-44s %10.2f %12.1f %10.2f\n' "cals preprocess --in-process, 2 threads" "$t_in2" "$(echo "$frames / $t_in2" | bc -l)" "$(echo "$t_in2 / $t_extract" | bc -l)"
printf '%-44s %10.3f   (target <= 1.05)\n' "worker processes / in-process, 1 worker" "$(echo "$t_pre1 / $t_in1" | bc -l)"
printf '%-44s %10.3f   (target <= 1.05)\n' "worker processes / in-process, 2 workers" "$(echo "$t_pre2 / $t_in2" | bc -l)"
printf '%-44s %10.2f\n' "1,000 items, first run" "$t_first"
printf '%-44s %10.2f   (target < 2 s)\n' "1,000 items, no-change re-run" "$t_again"
