#!/usr/bin/env python3
"""`cals extract` frames/s per container/codec variant (issue 21): the 720p talking-face benchmark
clip re-encoded by the ffmpeg program in each variant, against the H.264/AAC MP4 it came from,
measured in the same run. Run from the repository root after `make build`:
    .venv/bin/python bench/media_matrix.py [SECONDS]"""
import os, subprocess, sys, tempfile
from harness import CALS, measure, table, talking_clip

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
clip = talking_clip(seconds)
frames = seconds * 25
x264 = ["-c:v", "libx264", "-preset", "veryfast"]
variants = {  # name: ffmpeg output options
    "reference.mp4 (H.264 + AAC)": None,
    "h264-aac.mkv": x264 + ["-c:a", "aac"],
    "vp9-opus.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2M", "-c:a", "libopus"],
    "mjpeg-pcm.avi": ["-c:v", "mjpeg", "-q:v", "3", "-c:a", "pcm_s16le"],
    "mpeg4-mp3.avi": ["-c:v", "mpeg4", "-q:v", "3", "-c:a", "libmp3lame"],
    "mpeg2-interlaced-mp2.ts": ["-c:v", "mpeg2video", "-q:v", "3", "-flags", "+ilme+ildct", "-top", "1", "-c:a", "mp2"],
    "hevc-10bit.mp4": ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params",
                       "log-level=error", "-c:a", "aac"],
    "prores-pcm.mov": ["-c:v", "prores_ks", "-profile:v", "1", "-c:a", "pcm_s16le"],
    "sar-2to1.mp4": x264 + ["-vf", "scale=640:720,setsar=2", "-c:a", "aac"],
    "size-1282x722.mp4": x264 + ["-vf", "scale=1282:722,setsar=1", "-c:a", "aac"],
    "aac-5.1.mp4": x264 + ["-af", "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1", "-c:a", "aac"],
}
rows = []
with tempfile.TemporaryDirectory() as tmp:
    base = None
    for name, options in variants.items():
        path = clip if options is None else os.path.join(tmp, name)
        if options is not None:
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", clip] + options + [path], check=True)
        out = os.path.join(tmp, name + ".h5")
        t, rss = measure(["sh", "-c", f'rm -f "{out}"; exec "$0" "$@"', CALS, "extract", path, "--out", out], runs=1)
        base = base or t
        rows.append([name, f"{t:.2f}", f"{frames / t:.1f}", f"{rss:.0f}", f"{t / base:.2f}"])
table(f"cals extract per variant: {seconds} s of 1280x720 talking face ({frames} frames at 25 fps)",
      ["variant", "seconds", "frames/s", "peak MiB", "time / reference"], rows)
