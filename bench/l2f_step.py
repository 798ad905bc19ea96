"""PyTorch side of bench/l2f_step.sh: the same L2F step as `cals bench l2f-step` — discriminator
update (BCE real vs detached fake), then generator update on 10*L1 + 0.07*GAN + 0.03*(d_av + d_vv)
through the frozen sync encoder (eval mode), its gradient clipped to global norm 1, and the
moving average of its weights updated — with the default widths of Sources/Models
(Tests/ModelsTests/golden/l2f_reference.py and sync_reference.py).

usage: l2f_step.py [--batch 2] [--frames 5] [--threads 2] [--steps 5] [--warmup 1]
Prints one JSON object {"ms_per_step": median, "peak_rss_mb": …}.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "ModelsTests", "golden"))
sys.path.insert(0, HERE)
import l2f_reference  # noqa: E402
import sync_reference  # noqa: E402
from sync_step import DEFAULT as SYNC_DEFAULT  # noqa: E402
from harness import time_steps  # noqa: E402


def sync_windows(faces, b):
    """[B*T, 3, 128, 128] -> [B*T, 15, 64, 128]: lower halves of frames i-2..i+2 of each window."""
    n = faces.shape[0]
    t = n // b
    lower = faces[:, :, 64:].reshape(b, t, 3, 64, 128)
    idx = torch.clamp(torch.arange(t)[:, None] + torch.arange(-2, 3)[None, :], 0, t - 1)   # [T, 5]
    return lower[:, idx].reshape(n, 15, 64, 128)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    g, d = l2f_reference.Generator().train(), l2f_reference.Discriminator().train()
    sync = sync_reference.SyncEncoder(SYNC_DEFAULT).eval()
    for q in sync.parameters():
        q.requires_grad_(False)
    g_opt, d_opt = torch.optim.Adam(g.parameters(), lr=1e-4), torch.optim.Adam(d.parameters(), lr=1e-4)
    average = [q.detach().clone() for q in g.parameters()]
    b, t = a.batch, a.frames
    n = b * t
    identity, target = torch.rand(n, 6, 128, 128), torch.rand(n, 3, 128, 128)
    lip, audio = torch.rand(n, 1024), torch.randn(n, 1, 80, 20)

    def step():
        fake = g(identity, lip)
        d_opt.zero_grad()
        l2f_reference.d_loss(d(target), d(fake.detach())).backward()
        d_opt.step()
        for q in d.parameters():
            q.requires_grad_(False)
        g_opt.zero_grad()
        visual = sync.visual(sync_windows(fake, b))
        with torch.no_grad():
            sound = sync.audio(audio)
            real = sync.visual(sync_windows(target, b))
        loss = (10 * F.l1_loss(fake, target) + 0.07 * l2f_reference.g_gan(d(fake))
                + 0.03 * (l2f_reference.d_av(sound, visual)
                          + l2f_reference.d_vv(visual.reshape(b, t, -1), real.reshape(b, t, -1))))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g.parameters(), 1.0)
        g_opt.step()
        with torch.no_grad():
            for a_, q in zip(average, g.parameters()):
                a_.mul_(0.999).add_(q, alpha=0.001)
        for q in d.parameters():
            q.requires_grad_(True)

    time_steps(step, a.steps, a.warmup)

if __name__ == "__main__":
    main()
