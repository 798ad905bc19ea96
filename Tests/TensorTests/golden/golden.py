"""Golden cases for TensorTests: read weights and inputs written by Swift (safetensors), run the
PyTorch reference, write outputs, loss, gradients and parameters after Adam steps.

usage: golden.py CASE IN.safetensors OUT.safetensors CONFIG_JSON
  CASE: encoder_layer | a2l | conv_block | l2f_up_block | l2f_generator | l2f_discriminator
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import l2f_reference  # noqa: E402


def load_weights(model, tensors):
    state = {k: v for k, v in tensors.items() if not k.startswith("input.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")


def main():
    case, inp, out, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    torch.set_num_threads(1)
    tensors = load_file(inp)
    x = tensors["input.x"].clone().requires_grad_(True)
    key_mask = tensors.get("input.key_mask")
    if case == "encoder_layer":
        model = reference.encoder_layer(config["dim"], config["heads"], config["feedForward"], 0.0)
        forward = lambda: model(x, src_mask=reference.band_mask(x.shape[1], config.get("context")),
                                src_key_padding_mask=reference.key_padding(key_mask))
        loss_of = lambda y: (y * tensors["input.weights"]).sum()
    elif case == "a2l":
        model = reference.A2L(config["inputDim"], config["dim"], config["layers"], config["heads"],
                              config["feedForward"], config["outputDim"], 0.0, config.get("context"))
        forward = lambda: model(x, key_mask)
        loss_of = lambda y: reference.masked_mse(y, tensors["input.target"], tensors["input.mask"])
    elif case == "conv_block":
        model = reference.ConvBlock(x.shape[1])
        forward = lambda: model(x)
        loss_of = lambda y: ((y - tensors["input.target"]) ** 2).mean()
    elif case == "l2f_up_block":
        model = l2f_reference.UpBlock(x.shape[1], config["out"], tensors["input.skip"].shape[1])
        forward = lambda: model(x, tensors["input.skip"])
        loss_of = lambda y: ((y - tensors["input.target"]) ** 2).mean()
    elif case == "l2f_generator":
        model = l2f_reference.Generator(config["channels"], config["lipChannels"], config["lipDim"], x.shape[-1])
        forward = lambda: model(x, tensors["input.lip"])
        loss_of = lambda y: (y - tensors["input.target"]).abs().mean()
    elif case == "l2f_discriminator":
        model = l2f_reference.Discriminator(config["channels"], x.shape[-1])
        forward = lambda: model(x)
        loss_of = lambda y: l2f_reference.d_loss(y, model(tensors["input.fake"]))
    else:
        raise SystemExit(f"unknown case {case}")
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
    main()
