#!/usr/bin/env python3
"""make detector: MTCNN's weights as one safetensors file for `detector: cnn`.

Reads the P-, R- and O-Net state dicts that the facenet-pytorch wheel ships
(facenet_pytorch/data/{pnet,rnet,onet}.pt) from the installed package, without importing it,
and writes every tensor as float32 named `<net>.<state dict key>` (e.g. `pnet.conv1.weight`),
with the package version in the metadata. Usage: mtcnn_weights.py OUT.safetensors
"""
import importlib.metadata
import importlib.util
import os
import sys

import torch
from safetensors.torch import save_file


def main(out):
    package = importlib.util.find_spec("facenet_pytorch").submodule_search_locations[0]
    tensors = {}
    for net in ("pnet", "rnet", "onet"):
        state = torch.load(os.path.join(package, "data", net + ".pt"), map_location="cpu")
        for key, value in state.items():
            tensors[f"{net}.{key}"] = value.detach().to(torch.float32).contiguous()
    version = importlib.metadata.version("facenet-pytorch")
    tmp = out + ".tmp"
    save_file(tensors, tmp, metadata={"source": f"facenet-pytorch {version}"})
    os.replace(tmp, out)
    print(f"{out}: {len(tensors)} tensors from facenet-pytorch {version}")


if __name__ == "__main__":
    main(sys.argv[1])
