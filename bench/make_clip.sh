#!/usr/bin/env bash
# Makes the benchmark input: a 720p 30 fps H.264 talking-face clip with speech, from a face photo
# shipped by scikit-image and espeak-ng speech. usage: bench/make_clip.sh OUT.mp4 [SECONDS]
set -euo pipefail
out=$1; secs=${2:-20}
face=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
espeak-ng -w "$tmp/speech.wav" -s 150 "$(for i in $(seq 1 12); do printf 'the quick brown fox jumps over the lazy dog while we measure lip sync. '; done)"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$secs" -loop 1 -i "$face" -i "$tmp/speech.wav" \
  -filter_complex "[1:v]scale=560:560[f];[0:v][f]overlay=x='360+80*sin(t)':y='80+30*cos(0.7*t)':shortest=1[v]" \
  -map "[v]" -map 2:a -t "$secs" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ar 44100 -ac 2 "$out"
