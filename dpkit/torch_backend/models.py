"""Models for the torch backend: the NumPy reference's MLP, a small CNN, and a layer check.

Any ``torch.nn.Module`` whose forward pass treats each example on its own can be
trained: per-example gradients come from ``torch.func`` (see :mod:`.steps`), which
calls the module on one example at a time. BatchNorm is the common layer that breaks
this. It normalises with statistics of the whole batch, so one example's gradient
depends on the others, and the clipping bound no longer limits what one example
can change. :func:`check_layers` rejects it and names GroupNorm, which normalises
each example by itself, as the replacement.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dpkit._validate import check_integer
from dpkit.model import init_mlp


def check_layers(module: nn.Module) -> None:
    """Raise ValueError if ``module`` contains a layer that mixes examples of a batch (BatchNorm)."""
    for name, layer in module.named_modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            where = name or "the model itself"
            raise ValueError(
                f"layer {where!r} is {type(layer).__name__}, which normalises with statistics of the whole batch, "
                "so one example's gradient depends on the others and clipping no longer bounds its influence. "
                "Use torch.nn.GroupNorm instead, which normalises each example on its own."
            )


def build_mlp(
    layer_sizes: tuple[int, ...], *, rng: np.random.Generator, dtype: torch.dtype, device: torch.device
) -> nn.Sequential:
    """Build the NumPy reference's MLP as ``Linear, ReLU, ..., Linear``, with the same initial values.

    The weights come from :func:`dpkit.model.init_mlp` with the same ``rng``, so the
    same seed starts both backends from the same point. ``init_mlp`` stores a weight as
    (fan_in, fan_out) and ``nn.Linear`` as (fan_out, fan_in), hence the transpose.
    """
    numpy_params = init_mlp(layer_sizes, rng=rng)
    layers: list[nn.Module] = []
    num_layers = len(numpy_params) // 2
    for layer in range(num_layers):
        weight, bias = numpy_params[2 * layer], numpy_params[2 * layer + 1]
        linear = nn.Linear(weight.shape[0], weight.shape[1], dtype=dtype, device=device)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias))
        layers.append(linear)
        if layer < num_layers - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _conv_output_side(side: int, *, kernel: int, stride: int, padding: int = 0) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def cnn_feature_side(image_side: int) -> int:
    """Return the side of the feature map that :func:`build_cnn` flattens, for square-ish inputs.

    The four spatial layers are conv 8x8 stride 2 padding 3, max-pool 2 stride 1,
    conv 4x4 stride 2, max-pool 2 stride 1. A result below 1 means the image is too small.
    """
    side = _conv_output_side(image_side, kernel=8, stride=2, padding=3)
    side = _conv_output_side(side, kernel=2, stride=1)
    side = _conv_output_side(side, kernel=4, stride=2)
    return _conv_output_side(side, kernel=2, stride=1)


def build_cnn(
    image_shape: tuple[int, int],
    num_classes: int,
    *,
    rng: np.random.Generator,
    dtype: torch.dtype,
    device: torch.device,
) -> nn.Sequential:
    """Build the small tanh CNN used as a DP-SGD baseline for 28x28 images.

    The layers are those of the convolutional network in Opacus's MNIST example
    (``SampleConvNet``): conv 16 filters 8x8 stride 2 padding 3, max-pool 2x2 stride 1,
    conv 32 filters 4x4 stride 2, max-pool 2x2 stride 1, dense 32, dense
    ``num_classes``. The hidden activations are tanh instead of ReLU, following
    Papernot et al., "Tempered Sigmoid Activations for Deep Learning with
    Differential Privacy" (arXiv:2007.14191), who find bounded activations train
    better under clipping. On 28x28 inputs it has 26,010 parameters.

    Weights get torch's default initialisation, drawn from a torch generator seeded
    by ``rng``; the global torch random state is restored afterwards.
    """
    height, width = image_shape
    feature_height, feature_width = cnn_feature_side(height), cnn_feature_side(width)
    if feature_height < 1 or feature_width < 1:
        raise ValueError(f"model 'cnn' needs images of at least 14x14 pixels; got {height}x{width}")
    check_integer("num_classes", num_classes, low=1)

    seed = int(rng.integers(2**63 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=8, stride=2, padding=3),
            nn.Tanh(),
            nn.MaxPool2d(kernel_size=2, stride=1),
            nn.Conv2d(16, 32, kernel_size=4, stride=2),
            nn.Tanh(),
            nn.MaxPool2d(kernel_size=2, stride=1),
            nn.Flatten(),
            nn.Linear(32 * feature_height * feature_width, 32),
            nn.Tanh(),
            nn.Linear(32, num_classes),
        )
    return model.to(device=device, dtype=dtype)
