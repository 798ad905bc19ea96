"""PyTorch reference of the cals sync encoder (Sources/Models/SyncEncoder.swift): same modules,
same state-dict names, same matching loss. Used by the golden test and bench/sync_step.py."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VISUAL_SHAPE = (15, 64, 128)
AUDIO_SHAPE = (1, 80, 20)


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, stride, residual):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.residual = residual

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y + x if self.residual else y)


class SyncStream(nn.Module):
    def __init__(self, shape, channels, strides, residual_from, output_dim):
        super().__init__()
        blocks, (c, h, w) = [], shape
        for stage, (out, s) in enumerate(zip(channels, strides)):
            blocks.append(ConvBNReLU(c, out, s, False))
            c, h, w = out, (h - 1) // s + 1, (w - 1) // s + 1
            if residual_from is not None and stage >= residual_from:
                blocks.append(ConvBNReLU(c, c, 1, True))
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(c * h * w, output_dim)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return F.normalize(F.relu(self.fc(x.flatten(1))), dim=-1)


class SyncEncoder(nn.Module):
    """config: the JSON of SyncEncoder.Config (visualChannels, visualStrides, audioChannels,
    audioStrides, residualFrom, outputDim)."""

    def __init__(self, config):
        super().__init__()
        r = config.get("residualFrom")
        self.visual = SyncStream(VISUAL_SHAPE, config["visualChannels"], config["visualStrides"], r, config["outputDim"])
        self.audio = SyncStream(AUDIO_SHAPE, config["audioChannels"], config["audioStrides"], r, config["outputDim"])


def matching_loss(video, audio, m, temperature):
    """video [C*V, D], audio [C, V+2M, D] unit embeddings; target offset index M."""
    c, length, d = audio.shape
    k, v = 2 * m + 1, length - 2 * m
    candidates = torch.stack([audio[:, i:i + k] for i in range(v)], 1).reshape(c * v, k, d)
    logits = torch.einsum("nkd,nd->nk", candidates, video) / temperature
    target = torch.full((c * v,), m, dtype=torch.long)
    return F.cross_entropy(logits, target), logits
