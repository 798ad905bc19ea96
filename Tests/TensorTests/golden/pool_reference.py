"""PyTorch's MaxPool2d (ceil mode) and PReLU on the inputs PoolTests writes.

usage: pool_reference.py IN.safetensors OUT.safetensors
IN holds x [N, C, H, W] and weight [C]; OUT gets pool2 (kernel 2, stride 2), pool3 (kernel 3,
stride 2), pool3_floor (kernel 3, stride 2, floor mode) and prelu.
"""
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

t = load_file(sys.argv[1])
x, w = t["x"], t["weight"]
save_file({
    "pool2": F.max_pool2d(x, 2, 2, ceil_mode=True).contiguous(),
    "pool3": F.max_pool2d(x, 3, 2, ceil_mode=True).contiguous(),
    "pool3_floor": F.max_pool2d(x, 3, 2, ceil_mode=False).contiguous(),
    "prelu": F.prelu(x, w).contiguous(),
}, sys.argv[2])
