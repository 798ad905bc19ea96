"""The reference for MTCNNTests: facenet-pytorch's MTCNN (keep_all, its default thresholds,
pyramid factor and minimum face size of 20) on raw RGB images.

Usage: mtcnn_reference.py JOBS.json, JOBS a list of {"path": raw RGB bytes, "width", "height"}.
Prints a JSON list, per image a list of faces largest first: {"box": [x1, y1, x2, y2], "score",
"landmarks": [[x, y] × 5]}.
"""
import json
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
from facenet_pytorch import MTCNN  # noqa: E402

torch.set_num_threads(1)
mtcnn = MTCNN(keep_all=True)
results = []
for job in json.load(open(sys.argv[1])):
    image = np.fromfile(job["path"], dtype=np.uint8).reshape(job["height"], job["width"], 3)
    boxes, probs, points = mtcnn.detect(image, landmarks=True)
    faces = []
    if boxes is not None:
        for box, prob, pts in zip(boxes, probs, points):
            faces.append({"box": [float(v) for v in box], "score": float(prob),
                          "landmarks": [[float(x), float(y)] for x, y in pts]})
    results.append(faces)
print(json.dumps(results))
