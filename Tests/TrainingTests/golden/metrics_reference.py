"""scikit-image PSNR / SSIM of frame pairs written by Tests/TrainingTests/MetricsTests.swift.

usage: metrics_reference.py A.raw B.raw HEIGHT WIDTH ROW0 ROW1 COL0 COL1
A and B: uint8 [H, W, 3]. Prints JSON {"psnr", "ssim", "region_psnr"}.
"""
import json
import sys

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

a_path, b_path = sys.argv[1], sys.argv[2]
h, w, r0, r1, c0, c1 = (int(v) for v in sys.argv[3:9])
a = np.fromfile(a_path, dtype=np.uint8).reshape(h, w, 3)
b = np.fromfile(b_path, dtype=np.uint8).reshape(h, w, 3)
print(json.dumps({
    "psnr": float(peak_signal_noise_ratio(a, b, data_range=255)),
    "ssim": float(structural_similarity(a, b, channel_axis=-1, data_range=255)),
    "region_psnr": float(peak_signal_noise_ratio(a[r0:r1, c0:c1], b[r0:r1, c0:c1], data_range=255)),
}))
