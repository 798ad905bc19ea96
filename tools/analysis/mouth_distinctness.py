"""How often does a demo-corpus mouth trajectory have a near twin at another offset? (issue 7)

    python3 tools/analysis/mouth_distinctness.py RAW_CORPUS_FOLDER

For every 5-frame window (centred t, 17 ≤ t < T − 17) of every clip, the smallest RMS distance of
its rendered mouth parameters (jaw, width, rounding; per frame, from the clip's JSON sidecar) to
the window at any other offset within ±15, and within 2 ≤ |k| ≤ 15. Where that distance is below
what the 128-pixel crop shows (0.1 ≈ 1.5 px of jaw opening), no encoder can pick the true offset
from that single window.
"""
import glob
import json
import sys

import numpy as np

nearest = []
for path in sorted(glob.glob(sys.argv[1] + "/*/clip*.json")):
    frames = json.load(open(path))["frames"]
    m = np.array([[f["jaw"], f["width"], f["rounding"]] for f in frames])
    for t in range(17, len(m) - 17):
        window = m[t - 2:t + 3]
        distance = {k: np.sqrt(((m[t + k - 2:t + k + 3] - window) ** 2).mean()) for k in range(-15, 16) if k != 0}
        nearest.append((min(distance.values()), min(d for k, d in distance.items() if abs(k) > 1)))
nearest = np.array(nearest)
print(f"{len(nearest)} windows")
for threshold in (0.02, 0.05, 0.1):
    print(f"nearest other window within RMS {threshold}: any offset {np.mean(nearest[:, 0] < threshold):.3f}, "
          f"|k| ≥ 2 {np.mean(nearest[:, 1] < threshold):.3f}")
