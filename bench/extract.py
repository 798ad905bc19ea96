#!/usr/bin/env python3
"""`cals extract` against the Python reference pipeline (bench/ref_extract.py: OpenCV-Python Haar
+ librosa + h5py, same parameters) and against our own floor (decode alone; decode + face
tracking alone), on the same 720p talking-face clip, in one run. Frames per second and peak RSS.

Run from the repository root after `make build`:  .venv/bin/python bench/extract.py [SECONDS]
Targets (issue 3): extract >= 3x the Python pipeline; extract <= 1.3x the floor (decode + track).
"""
import os, sys, tempfile
from harness import CALS, PY, REPO, measure, table, talking_clip

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
clip = talking_clip(seconds)
frames = seconds * 25

with tempfile.TemporaryDirectory() as tmp:
    def out(name):  # a fresh output path each run (extract refuses to overwrite)
        path = os.path.join(tmp, name)
        return ["sh", "-c", f'rm -f "{path}"; exec "$0" "$@"']
    runs = {
        "cals extract": measure(out("c.h5") + [CALS, "extract", clip, "--out", os.path.join(tmp, "c.h5")]),
        "cals floor: decode": measure([CALS, "bench", "floor", clip]),
        "cals floor: decode + track": measure([CALS, "bench", "floor", clip, "--track"]),
        "cals floor: decode + track (haar)": measure([CALS, "bench", "floor", clip, "--track", "--detector", "haar"]),
        "cals floor: decode + track (cnn)": measure([CALS, "bench", "floor", clip, "--track", "--detector", "cnn"]),
        "python reference (full)": measure([PY, os.path.join(REPO, "bench/ref_extract.py"), clip,
                                            os.path.join(tmp, "p.h5")]),
        "python: decode": measure([PY, os.path.join(REPO, "bench/ref_extract.py"), clip, "-", "--mode", "decode"]),
        "python: decode + detect": measure([PY, os.path.join(REPO, "bench/ref_extract.py"), clip, "-", "--mode", "detect"]),
    }
extract = runs["cals extract"][0]
rows = [[name, f"{t:.2f}", f"{frames / t:.1f}", f"{rss:.0f}", f"{t / extract:.2f}"]
        for name, (t, rss) in runs.items()]
table(f"extract: {seconds} s of 1280x720 30 fps H.264 ({frames} frames at 25 fps); median of 3",
      ["command", "seconds", "frames/s", "peak MiB", "time / cals extract"], rows)
print(f"\nspeed-up over the Python pipeline: {runs['python reference (full)'][0] / extract:.2f}x (target >= 3)")
print(f"cals extract / floor (decode + track): {extract / runs['cals floor: decode + track'][0]:.2f} (target <= 1.3)")
decode = runs["cals floor: decode"][0]
for name in ("haar", "cnn"):   # issue 23: cnn tracking >= 40% of the decode floor's frames/s
    print(f"decode + track ({name}) frames/s / decode frames/s: {decode / runs[f'cals floor: decode + track ({name})'][0]:.2f}")
