"""Face-landmark speed: `cals bench landmarks` against Python dlib's shape_predictor on the same
128x128 face crops (the photos of data/faces, faces found by dlib's detector, cut with random
shifts and scales), in the fixed LMD box; also checks that the points agree.

Run from the repository root after `make build` and `make landmarks`:  .venv/bin/python bench/landmarks.py [N]
"""
import os
import subprocess
import sys
import tempfile
import time

import cv2
import dlib
import numpy as np

CALS = os.environ.get("CALS_BIN", ".build/release/cals")
MODEL = "data/models/shape_predictor_68_face_landmarks.dat"
PHOTOS = ["data/faces/astronaut.png", "data/faces/t1.jpg", "data/faces/Tom_Hanks_54745.png"]
BOX = dlib.rectangle(12, 13, 12 + 99 - 1, 13 + 99 - 1)  # FaceLandmarks.cropBox(side: 128)
REPEATS = 3


def crops(count):
    """`count` 128x128 RGB crops around the faces of the photos: [count, 128, 128, 3] uint8."""
    detector, rng, faces = dlib.get_frontal_face_detector(), np.random.default_rng(0), []
    for path in PHOTOS:
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        faces += [(image, d) for d in detector(image, 1)]
    out = np.empty((count, 128, 128, 3), np.uint8)
    for i in range(count):
        image, d = faces[i % len(faces)]
        side = d.width() * 1.15 * rng.uniform(0.9, 1.1)
        cx, cy = d.center().x + rng.uniform(-4, 4), d.center().y + rng.uniform(-4, 4)
        # the square side x side centred at (cx, cy), resampled to 128 (edges repeated)
        scale = 128 / side
        m = np.array([[scale, 0, 64 - scale * cx], [0, scale, 64 - scale * cy]])
        out[i] = cv2.warpAffine(image, m, (128, 128), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return out


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    images = crops(count)
    with tempfile.TemporaryDirectory() as tmp:
        raw, points = os.path.join(tmp, "crops.rgb"), os.path.join(tmp, "points.f64")
        images.tofile(raw)
        out = subprocess.run([CALS, "bench", "landmarks", raw, "--model", MODEL, "--repeats", str(REPEATS),
                              "--points", points], check=True, capture_output=True, text=True).stdout.split()
        swift, swift_load = float(out[0]), float(out[2])
        ours = np.fromfile(points, np.float64).reshape(count, 68, 2)
    start = time.perf_counter()
    predictor = dlib.shape_predictor(MODEL)
    python_load = time.perf_counter() - start
    python = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        shapes = [predictor(image, BOX) for image in images]
        python = min(python, time.perf_counter() - start)
    theirs = np.array([[[p.x, p.y] for p in s.parts()] for s in shapes])
    same = (np.floor(ours + 0.5) == theirs).all(axis=2).mean()
    print(f"68-point landmarks on {count} crops of 128x128, best of {REPEATS} passes, 1 thread")
    print(f"{'implementation':<16}{'landmarks/s':>12}{'ms/face':>10}{'load s':>9}{'vs dlib':>10}")
    print(f"{'Python dlib':<16}{count / python:>12.0f}{1000 * python / count:>10.3f}{python_load:>9.2f}{1:>9.2f}x")
    print(f"{'cals':<16}{count / swift:>12.0f}{1000 * swift / count:>10.3f}{swift_load:>9.2f}{python / swift:>9.2f}x")
    print(f"points equal to dlib's (after dlib's rounding): {100 * same:.2f}%")


if __name__ == "__main__":
    main()
