"""Python dlib's shape_predictor on raw RGB images: the reference for ShapePredictor.

Usage: landmarks_reference.py MODEL JOBS.json
JOBS.json: [{"raw": path, "width": W, "height": H, "boxes": [[x, y, width, height], ...]}, ...]
where `raw` holds H*W*3 bytes (RGB, rows top to bottom) and a box is dlib's
rectangle(x, y, x + width - 1, y + height - 1). Prints JSON: per job, per box, the points as
[[x, y], ...] in whole pixels (dlib rounds them).
"""
import json
import sys

import dlib
import numpy as np


def main():
    predictor = dlib.shape_predictor(sys.argv[1])
    with open(sys.argv[2]) as f:
        jobs = json.load(f)
    out = []
    for job in jobs:
        image = np.fromfile(job["raw"], dtype=np.uint8).reshape(job["height"], job["width"], 3)
        shapes = []
        for x, y, w, h in job["boxes"]:
            shape = predictor(image, dlib.rectangle(x, y, x + w - 1, y + h - 1))
            shapes.append([[p.x, p.y] for p in shape.parts()])
        out.append(shapes)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
