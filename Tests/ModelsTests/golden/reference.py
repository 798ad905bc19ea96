"""PyTorch reference modules with the same state-dict names as Sources/Models (A2L, ConvBlock).

Shared by the golden tests (models_golden.py) and the benchmark (bench/a2l_step.py). The encoder
layer and its masks are NNTests' (Tests/NNTests/golden/nn_reference.py).
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "NNTests", "golden"))
from nn_reference import band_mask, encoder_layer, key_padding  # noqa: E402,F401


def sinusoidal_positions(t, d):
    """pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(...), as Sources/Tensor/Attention.swift."""
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    div = torch.exp(-torch.arange(0, d, 2, dtype=torch.float64) * math.log(10000.0) / d)
    pe = torch.zeros(t, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe.float()


def layer_bands(context, layers, t):
    """Band of each A2L layer for a receptive field of +-context (as A2L.layerBands in Swift)."""
    if context is None or context >= t - 1:
        return [None] * layers
    each = -(-context // layers)
    return [min(each, max(0, context - i * each)) for i in range(layers)]


class A2L(nn.Module):
    def __init__(self, input_dim=320, dim=512, layers=6, heads=8, feed_forward=2048, output_dim=1024,
                 dropout=0.1, context=None):
        super().__init__()
        self.dim, self.context = dim, context
        self.input_proj = nn.Linear(input_dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList([encoder_layer(dim, heads, feed_forward, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.output_proj = nn.Linear(dim, output_dim)

    def forward(self, units, key_mask=None):
        t = units.shape[1]
        h = self.dropout(self.input_proj(units) + sinusoidal_positions(t, self.dim))
        for layer, band in zip(self.layers, layer_bands(self.context, len(self.layers), t)):
            h = layer(h, src_mask=band_mask(t, band), src_key_padding_mask=key_padding(key_mask))
        return self.output_proj(self.norm(h))


def masked_mse(pred, target, mask):
    """Sum of squared errors on steps with mask 1, over (number of such steps x feature size)."""
    return ((pred - target) ** 2 * mask[..., None]).sum() / (mask.sum() * pred.shape[-1])


class ConvBlock(nn.Module):
    def __init__(self, in_channels=6):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)

    def forward(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
