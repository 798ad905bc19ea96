"""Golden case for ModelsTests: weights and inputs written by Swift (safetensors) → the PyTorch
reference in train mode → embeddings, loss, gradients and BN running statistics.

usage: sync_golden.py IN.safetensors OUT.safetensors CONFIG_JSON
  CONFIG_JSON: {"model": SyncEncoder.Config, "clips": C, "maxOffset": M, "temperature": t}
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_reference  # noqa: E402


def main():
    inp, out, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    torch.set_num_threads(1)
    tensors = load_file(inp)
    model = sync_reference.SyncEncoder(config["model"])
    state = {k: v for k, v in tensors.items() if not k.startswith("input.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.train()
    visual = tensors["input.visual"].clone().requires_grad_(True)
    audio = tensors["input.audio"].clone().requires_grad_(True)
    video_emb = model.visual(visual)
    audio_emb = model.audio(audio)
    c = config["clips"]
    loss, logits = sync_reference.matching_loss(video_emb, audio_emb.reshape(c, -1, audio_emb.shape[-1]),
                                                config["maxOffset"], config["temperature"])
    loss.backward()
    result = {"video": video_emb.detach(), "audio": audio_emb.detach(), "logits": logits.detach(),
              "loss": loss.detach().reshape(1), "grad.input.visual": visual.grad, "grad.input.audio": audio.grad}
    for name, p in model.named_parameters():
        result["grad." + name] = p.grad
    for name, b in model.named_buffers():
        if not name.endswith("num_batches_tracked"):
            result["buffer." + name] = b.clone()
    save_file({k: v.contiguous().float() for k, v in result.items()}, out)


if __name__ == "__main__":
    main()
