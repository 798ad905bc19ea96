"""Golden cases for NNTests: read weights and inputs written by Swift (safetensors), run the
PyTorch reference, write outputs, loss, gradients and parameters after Adam steps. `run` is also
the runner of Tests/ModelsTests/golden/models_golden.py.

usage: golden.py CASE IN.safetensors OUT.safetensors CONFIG_JSON
  CASE: encoder_layer
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_reference  # noqa: E402


def load_weights(model, tensors):
    state = {k: v for k, v in tensors.items() if not k.startswith("input.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")


def encoder_layer(x, tensors, config):
    model = nn_reference.encoder_layer(config["dim"], config["heads"], config["feedForward"], 0.0)
    forward = lambda: model(x, src_mask=nn_reference.band_mask(x.shape[1], config.get("context")),
                            src_key_padding_mask=nn_reference.key_padding(tensors.get("input.key_mask")))
    loss_of = lambda y: (y * tensors["input.weights"]).sum()
    return model, forward, loss_of


def run(cases):
    """cases: CASE name -> function(x, tensors, config) giving (model, forward, loss_of)."""
    case, inp, out, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    torch.set_num_threads(1)
    tensors = load_file(inp)
    x = tensors["input.x"].clone().requires_grad_(True)
    if case not in cases:
        raise SystemExit(f"unknown case {case}")
    model, forward, loss_of = cases[case](x, tensors, config)
    load_weights(model, tensors)
    model.train()
    y = forward()
    loss = loss_of(y)
    loss.backward()
    result = {"output": y.detach(), "loss": loss.detach().reshape(1), "grad.input": x.grad.clone()}
    for name, p in model.named_parameters():
        result["grad." + name] = p.grad.clone()
    for name, b in model.named_buffers():
        if not name.endswith("num_batches_tracked"):
            result["buffer." + name] = b.clone()
    # Three Adam steps from the loaded weights (the first uses the gradient above).
    adam = torch.optim.Adam(model.parameters(), lr=config.get("lr", 1e-2), weight_decay=config.get("weightDecay", 0.0))
    for step in range(3):
        if step > 0:
            adam.zero_grad()
            loss_of(forward()).backward()
        adam.step()
    for name, p in model.named_parameters():
        result["adam." + name] = p.detach()
    save_file({k: v.contiguous().float() for k, v in result.items()}, out)


if __name__ == "__main__":
    run({"encoder_layer": encoder_layer})
