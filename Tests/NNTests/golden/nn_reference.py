"""PyTorch reference of Sources/NN's transformer encoder layer (pre-norm, GELU, batch first) and
the masks it takes. Used by golden.py here and by Tests/ModelsTests/golden/reference.py (A2L).
"""
import torch
from torch import nn


def encoder_layer(dim, heads, ff, dropout):
    return nn.TransformerEncoderLayer(dim, heads, ff, dropout, activation="gelu",
                                      batch_first=True, norm_first=True)


def band_mask(t, context):
    """Bool [T, T], True where |i - j| > context (not allowed), or None."""
    if context is None:
        return None
    i = torch.arange(t)
    return (i[:, None] - i[None, :]).abs() > context


def key_padding(key_mask):
    return None if key_mask is None else key_mask == 0
