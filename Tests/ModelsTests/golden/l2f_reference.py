"""PyTorch reference of the L2F generator, its blocks and the discriminator, with the state-dict
names of Sources/Models/Generator.swift and Discriminator.swift, and the L2F loss terms of
Sources/NN/L2FLosses.swift. Shared by models_golden.py and bench/l2f_step.py.
"""
import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    """conv 3x3 (padding 1, no bias) -> BN -> ReLU (Models.ConvBNReLU, non-residual)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class UpBlock(nn.Module):
    """nearest x2 -> conv 3x3 -> BN -> ReLU, concat skip, conv 3x3 -> BN -> ReLU (Models.UpBlock)."""

    def __init__(self, cin, cout, skip):
        super().__init__()
        self.up = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.up_bn = nn.BatchNorm2d(cout)
        self.conv = nn.Conv2d(cout + skip, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x, skip):
        h = torch.relu(self.up_bn(self.up(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))))
        return torch.relu(self.bn(self.conv(torch.cat([h, skip], 1))))


class Generator(nn.Module):
    def __init__(self, channels=(16, 32, 64, 128, 128), lip_channels=32, lip_dim=1024, image_size=128,
                 warps_reference=True):
        super().__init__()
        c = list(channels)
        self.warps_reference = warps_reference
        self.side = image_size >> len(c)
        self.lip_channels = lip_channels
        self.down = nn.ModuleList(ConvBNReLU(a, b, 2) for a, b in zip([6] + c[:-1], c))
        self.lip_proj = nn.Linear(lip_dim, lip_channels * self.side * self.side, bias=False)
        self.lip_bn = nn.BatchNorm2d(lip_channels)
        self.fuse = ConvBNReLU(c[-1] + lip_channels, c[-1], 1)
        self.up = nn.ModuleList(UpBlock(c[i + 1], c[i], c[i]) for i in range(len(c) - 2, -1, -1))
        self.head = UpBlock(c[0], c[0], 6)
        self.out = nn.Conv2d(c[0], 6 if warps_reference else 4, 1)

    def forward(self, x, lip):
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        lip_map = torch.relu(self.lip_bn(self.lip_proj(lip).reshape(x.shape[0], self.lip_channels, self.side, self.side)))
        h = self.fuse(torch.cat([h, lip_map], 1))
        for j, block in enumerate(self.up):
            h = block(h, skips[len(skips) - 2 - j])
        o = self.out(self.head(h, x))
        colour, alpha = torch.sigmoid(o[:, :3]), torch.sigmoid(o[:, 3:4])
        reference = warp(x[:, :3], o[:, 4:6]) if self.warps_reference else x[:, :3]
        painted = colour + alpha * (reference - colour)
        lower = (torch.arange(x.shape[-2]) >= x.shape[-2] // 2).to(x.dtype).reshape(1, 1, -1, 1)
        return x[:, 3:6] * (1 - lower) + painted * lower


def warp(image, flow):
    """Backward bilinear warp by a flow in pixels (channel 0: x, 1: y), border clamping (Tensor.warpBilinear)."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=image.dtype), torch.arange(w, dtype=image.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) / (w - 1) * 2 - 1
    gy = (ys + flow[:, 1]) / (h - 1) * 2 - 1
    return F.grid_sample(image, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="border", align_corners=True)


class Discriminator(nn.Module):
    def __init__(self, channels=(16, 32, 64, 128, 128), image_size=128, slope=0.2):
        super().__init__()
        c = list(channels)
        self.slope = slope
        self.blocks = nn.ModuleList(nn.Conv2d(a, b, 4, stride=2, padding=1) for a, b in zip([3] + c[:-1], c))
        self.out = nn.Conv2d(c[-1], 1, image_size >> len(c))

    def forward(self, x):
        h = x
        for conv in self.blocks:
            h = F.leaky_relu(conv(h), self.slope)
        return self.out(h).reshape(x.shape[0])


def d_av(audio, visual, eps=1e-6):
    return -torch.log(F.cosine_similarity(audio, visual, dim=-1, eps=1e-8) + eps).mean()


def d_vv(generated, real):
    b, t, _ = generated.shape
    cos = F.normalize(generated, dim=-1) @ F.normalize(real, dim=-1).transpose(1, 2)
    return F.cross_entropy(cos.reshape(b * t, t), torch.arange(t).repeat(b))


def d_loss(real_logits, fake_logits):
    bce = F.binary_cross_entropy_with_logits
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))


def g_gan(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
