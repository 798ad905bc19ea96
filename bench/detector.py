#!/usr/bin/env python3
"""Issue 23: `cals extract` with `detector: cnn` (MTCNN on our engine, the default) and `haar`
against the Python reference pipeline with facenet-pytorch's MTCNN per frame (and with Haar),
and against the decode floor, on the 720p talking-face clip and on the 6-clip set of
bench/pipeline.sh (6 clips of 4 s, 1280x720, the astronaut photo drifting). Frames per second and
peak RSS and CPU seconds (user + system, all threads) beside each; median of 3 runs (1 for the
slow Python MTCNN). The ratios are printed for wall time and for CPU time: on a shared machine
the CPU ratios move less with the other processes' load.

Run from the repository root after `make build` and `make detector`:
    .venv/bin/python bench/detector.py [SECONDS]
Targets: cnn extract >= 3x the Python MTCNN pipeline and >= 40% of the decode floor's frames/s;
haar not slower than before (compare with bench/extract.py's table).
"""
import os, subprocess, sys, tempfile
from harness import CALS, PY, REPO, measure_usage as measure, table, talking_clip

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
FACE = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

with tempfile.TemporaryDirectory() as tmp:
    haar_manifest = os.path.join(tmp, "haar.yaml")
    with open(haar_manifest, "w") as f:
        f.write("dataset: bench\nadapter: {kind: folder}\n"
                "stages: [decode: {}, face: {detector: haar}, mel: {}, align: {}, shard: {}]\n")
    six = []
    for i in range(1, 7):   # bench/pipeline.sh's clips
        clip = os.path.join(tmp, f"c{i}.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1", "-framerate", "25", "-t", "4",
                        "-i", FACE, "-f", "lavfi", "-t", "4", "-i", f"sine=frequency={200 + 40 * i}:sample_rate=16000",
                        "-vf", "scale=1400:1400,crop=1280:720:'60+40*sin(t*2)':60,format=yuv420p",
                        "-c:v", "libx264", "-preset", "ultrafast", "-r", "25", "-c:a", "aac", "-shortest", clip], check=True)
        six.append(clip)

    def each(clips, command):
        """One shell command that runs `command(clip, index)` for every clip in turn."""
        return ["sh", "-c", " && ".join(" ".join(f"'{a}'" for a in command(c, i)) for i, c in enumerate(clips))]

    def extract(extra):
        return lambda clip, i: [CALS, "extract", clip, "--out", os.path.join(tmp, f"o{i}.h5")] + extra

    for title, clips, frames in [(f"{seconds} s of 1280x720 30 fps H.264 ({seconds * 25} frames at 25 fps)",
                                  [talking_clip(seconds)], seconds * 25),
                                 ("bench/pipeline.sh's 6 clips of 4 s, 1280x720 (600 frames)", six, 600)]:
        def fresh(command):   # extract refuses to overwrite: remove the outputs before each run
            return ["sh", "-c", f'rm -f "{tmp}"/o*.h5; exec "$0" "$@"'] + command
        runs = {
            "cals floor: decode": measure(each(clips, lambda c, i: [CALS, "bench", "floor", c])),
            "cals extract (cnn, default)": measure(fresh(each(clips, extract([])))),
            "cals extract (haar)": measure(fresh(each(clips, extract(["--manifest", haar_manifest])))),
            "cals floor: decode + track (cnn)": measure(each(clips, lambda c, i: [CALS, "bench", "floor", c, "--track",
                                                                                  "--detector", "cnn"])),
            "cals floor: decode + track (haar)": measure(each(clips, lambda c, i: [CALS, "bench", "floor", c, "--track",
                                                                                   "--detector", "haar"])),
            "python reference, Haar": measure(each(clips, lambda c, i: [PY, os.path.join(REPO, "bench/ref_extract.py"), c,
                                                                        os.path.join(tmp, f"p{i}.h5")])),
            "python reference, MTCNN": measure(each(clips, lambda c, i: [PY, os.path.join(REPO, "bench/ref_extract.py"), c,
                                                                         os.path.join(tmp, f"p{i}.h5"), "--detector", "mtcnn"]),
                                               runs=1, warmup=0),
        }
        rows = [[name, f"{t:.2f}", f"{frames / t:.1f}", f"{rss:.0f}", f"{cpu:.2f}"] for name, (t, rss, cpu) in runs.items()]
        table(title + "; median of 3 (Python MTCNN: 1 run)", ["command", "seconds", "frames/s", "peak MiB", "cpu s"], rows)
        for k, clock in [(0, "wall"), (2, "cpu")]:
            cnn, floor = runs["cals extract (cnn, default)"][k], runs["cals floor: decode"][k]
            print(f"{clock}: cnn extract speed-up over the Python MTCNN pipeline: "
                  f"{runs['python reference, MTCNN'][k] / cnn:.2f}x (target >= 3)")
            print(f"{clock}: cnn extract frames/s / decode floor frames/s: {floor / cnn:.2f} (target >= 0.40)")
            print(f"{clock}: haar extract frames/s / decode floor frames/s: {floor / runs['cals extract (haar)'][k]:.2f}")
