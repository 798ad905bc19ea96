"""Golden cases for ModelsTests, run by the runner of Tests/NNTests/golden/golden.py: weights and
inputs written by Swift (safetensors) -> the PyTorch reference -> outputs, loss, gradients and
parameters after Adam steps.

usage: models_golden.py CASE IN.safetensors OUT.safetensors CONFIG_JSON
  CASE: a2l | conv_block | l2f_up_block | l2f_generator | l2f_discriminator
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "NNTests", "golden"))
import golden  # noqa: E402
import l2f_reference  # noqa: E402
import reference  # noqa: E402


def a2l(x, tensors, config):
    model = reference.A2L(config["inputDim"], config["dim"], config["layers"], config["heads"],
                          config["feedForward"], config["outputDim"], 0.0, config.get("context"))
    forward = lambda: model(x, tensors.get("input.key_mask"))
    loss_of = lambda y: reference.masked_mse(y, tensors["input.target"], tensors["input.mask"])
    return model, forward, loss_of


def conv_block(x, tensors, config):
    model = reference.ConvBlock(x.shape[1])
    forward = lambda: model(x)
    loss_of = lambda y: ((y - tensors["input.target"]) ** 2).mean()
    return model, forward, loss_of


def l2f_up_block(x, tensors, config):
    model = l2f_reference.UpBlock(x.shape[1], config["out"], tensors["input.skip"].shape[1])
    forward = lambda: model(x, tensors["input.skip"])
    loss_of = lambda y: ((y - tensors["input.target"]) ** 2).mean()
    return model, forward, loss_of


def l2f_generator(x, tensors, config):
    model = l2f_reference.Generator(config["channels"], config["lipChannels"], config["lipDim"], x.shape[-1])
    forward = lambda: model(x, tensors["input.lip"])
    loss_of = lambda y: (y - tensors["input.target"]).abs().mean()
    return model, forward, loss_of


def l2f_discriminator(x, tensors, config):
    model = l2f_reference.Discriminator(config["channels"], x.shape[-1])
    forward = lambda: model(x)
    loss_of = lambda y: l2f_reference.d_loss(y, model(tensors["input.fake"]))
    return model, forward, loss_of


if __name__ == "__main__":
    golden.run({"a2l": a2l, "conv_block": conv_block, "l2f_up_block": l2f_up_block,
                "l2f_generator": l2f_generator, "l2f_discriminator": l2f_discriminator})
