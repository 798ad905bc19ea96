"""PyTorch side of bench/sync_step.sh: the same sync-encoder Adam step as `cals bench sync-step`
(Tests/ModelsTests/golden/sync_reference.py, the default widths scaled by --width).

usage: sync_step.py [--batch 4] [--windows 8] [--offsets 6] [--width 1] [--threads 2]
                    [--steps 10] [--warmup 2]
Prints one JSON object {"ms_per_step": median, "peak_rss_mb": …}.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests", "golden"))
import sync_reference  # noqa: E402
import harness  # noqa: E402  (bench/, the script's own folder, is on sys.path)

DEFAULT = {"visualChannels": [16, 32, 64, 96, 128], "visualStrides": [2, 2, 2, 2, 2],
           "audioChannels": [16, 32, 64, 96, 128], "audioStrides": [2, 2, 2, 2, 2],
           "residualFrom": 3, "outputDim": 1024}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--offsets", type=int, default=6)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    config = dict(DEFAULT)
    for key in ("visualChannels", "audioChannels"):
        config[key] = [max(1, round(c * a.width)) for c in DEFAULT[key]]
    model = sync_reference.SyncEncoder(config).train()
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    c, v, m = a.batch, a.windows, a.offsets
    visual = torch.rand(c * v, *sync_reference.VISUAL_SHAPE)
    audio = torch.randn(c * (v + 2 * m), *sync_reference.AUDIO_SHAPE)

    def step():
        adam.zero_grad()
        video = model.visual(visual)
        sound = model.audio(audio).reshape(c, v + 2 * m, -1)
        sync_reference.matching_loss(video, sound, m, 0.1)[0].backward()
        adam.step()

    harness.time_steps(step, a.steps, a.warmup)


if __name__ == "__main__":
    main()
