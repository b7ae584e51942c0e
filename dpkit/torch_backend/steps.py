"""The DP-SGD steps of :mod:`dpkit.dpsgd`, written for any ``torch.nn.Module``.

Each function mirrors its NumPy namesake, so that the two backends compute the same
numbers (the parity test checks one full step to 1e-10 in float64):

* :func:`per_example_gradients` and :func:`clipped_gradient_sum` are steps 2-4,
* :func:`gaussian_noise` and :func:`secure_gaussian_noise` draw the noise of step 5,
* :func:`sgd_update` is step 7; step 6 is a division the backend does in place.

Gradients and noise are dictionaries from parameter name (as in
``module.named_parameters()``) to tensor, the form ``torch.func`` works with.
"""

from __future__ import annotations

import math
import secrets

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from dpkit.sampling import split_into_batches

Tensors = dict[str, torch.Tensor]


def per_example_gradients(module: nn.Module, params: Tensors, x: torch.Tensor, labels: torch.Tensor) -> Tensors:
    """Return the gradient of each example's cross-entropy loss, shape (B, *param.shape) per parameter.

    ``vmap(grad(...))`` runs the module on one example at a time (a batch of one, so
    Conv2d and GroupNorm see the input shape they expect), which is what makes each
    row depend on its own example only. Buffers are passed as constants.
    """
    buffers = dict(module.named_buffers())

    def loss_of_one(params: Tensors, example: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        logits = functional_call(module, (params, buffers), (example.unsqueeze(0),))
        return F.cross_entropy(logits, label.unsqueeze(0))

    return vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, labels)


def clip_and_sum(gradients: Tensors, *, clip_norm: float) -> tuple[Tensors, torch.Tensor]:
    """Scale each example's whole gradient to L2 norm at most ``clip_norm`` and sum over the batch.

    Returns the clipped sum (parameter shapes) and each example's unclipped norm, shape
    (B,). The factor ``clip_norm / max(norm, clip_norm)`` is that of
    :func:`dpkit.model.clip_factors`: 1 for a gradient already inside the ball,
    including an all-zero one.
    """
    squared_norms = sum(g.flatten(start_dim=1).square().sum(dim=1) for g in gradients.values())  # (B,)
    norms = squared_norms.sqrt()
    factors = clip_norm / norms.clamp(min=clip_norm)
    clipped_sum = {name: torch.tensordot(factors, g, dims=1) for name, g in gradients.items()}
    return clipped_sum, norms


def clipped_gradient_sum(
    module: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    lot: np.ndarray,
    *,
    clip_norm: float,
    batch_size: int,
) -> tuple[Tensors, torch.Tensor]:
    """Steps 2-4 over a lot: per-example gradients in physical batches, clipped, summed.

    Parameters
    ----------
    module : torch.nn.Module
        The model; its parameters are read, not changed.
    x : Tensor of shape (N, *input_shape)
        All training examples, on the module's device; ``lot`` indexes into them.
    labels : Tensor of shape (N,), int64
    lot : ndarray of int, shape (lot's size,)
        Indices of the lot's examples; may be empty, which gives a zero sum.
    clip_norm : float
        Bound C on each example's gradient L2 norm.
    batch_size : int
        How many examples are processed at once in memory.

    Returns
    -------
    clipped_sum : dict of Tensor, parameter shapes
    norms : Tensor of shape (lot's size,)
        Each example's gradient norm before clipping.

    Guarantee: adding or removing one example changes ``clipped_sum`` by at most
    ``clip_norm`` in L2 norm (over all parameters together).
    """
    params = {name: p.detach() for name, p in module.named_parameters()}
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    norms = []
    for batch in split_into_batches(lot, batch_size):
        index = torch.from_numpy(batch).to(x.device)
        gradients = per_example_gradients(module, params, x[index], labels[index])
        batch_sum, batch_norms = clip_and_sum(gradients, clip_norm=clip_norm)
        for name, part in batch_sum.items():
            total[name] += part
        norms.append(batch_norms)

    first = next(iter(params.values()))
    all_norms = torch.cat(norms) if norms else torch.zeros(0, dtype=first.dtype, device=first.device)
    return total, all_norms


def gaussian_noise(shapes: dict[str, torch.Size], *, std: float, generator: torch.Generator, dtype: torch.dtype) -> Tensors:
    """Step 5's noise: N(0, std^2) per coordinate, drawn by ``generator`` on its own device in ``dtype``.

    torch's generators (Philox on CUDA, Mersenne Twister on the CPU) are fast and
    reproducible from a seed, but they are not cryptographically secure.
    """
    return {
        name: torch.randn(shape, generator=generator, dtype=dtype, device=generator.device) * std
        for name, shape in shapes.items()
    }


def secure_gaussian_noise(
    shapes: dict[str, torch.Size], *, std: float, dtype: torch.dtype, device: torch.device
) -> Tensors:
    """Step 5's noise from the operating system's cryptographically secure generator.

    Uniform numbers are built from ``secrets.token_bytes`` (53 random bits each) on the
    host and turned into standard normals with the Box-Muller transform, in float64,
    before the cast to ``dtype`` and the copy to ``device``. This is slower than
    :func:`gaussian_noise`, by roughly the cost of producing 16 random bytes per
    coordinate, and it cannot be reproduced from a seed.

    NOTE: this removes the predictability of a seeded generator only. The
    floating-point values of sampled Gaussians can still leak information
    (Mironov, "On Significance of the Least Significant Bits for Differential
    Privacy", CCS 2012); no mitigation for that is implemented here.
    """
    noise = {}
    for name, shape in shapes.items():
        count = math.prod(shape)
        pairs = (count + 1) // 2
        random_words = np.frombuffer(secrets.token_bytes(16 * pairs), dtype=np.uint64)
        # The top 53 bits of each word, centred in its interval, give a uniform in (0, 1) with log() finite.
        uniforms = torch.from_numpy(((random_words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53)
        radius = torch.sqrt(-2.0 * torch.log(uniforms[:pairs]))
        angle = 2.0 * math.pi * uniforms[pairs:]
        normals = torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)])[:count]
        noise[name] = (normals * std).reshape(shape).to(device=device, dtype=dtype)
    return noise


@torch.no_grad()
def sgd_update(
    module: nn.Module, gradient: Tensors, *, learning_rate: float, momentum: float, velocity: Tensors | None
) -> Tensors | None:
    """Step 7: the (momentum) descent step of :func:`dpkit.dpsgd.sgd_update`, in place on ``module``.

    ``velocity <- momentum * velocity + gradient``, then ``param <- param - learning_rate * velocity``.
    Returns the new velocity (``None`` without momentum).
    """
    if momentum == 0.0:
        for name, param in module.named_parameters():
            param.sub_(learning_rate * gradient[name])
        return None

    if velocity is None:
        velocity = {name: torch.zeros_like(g) for name, g in gradient.items()}
    for name, param in module.named_parameters():
        velocity[name].mul_(momentum).add_(gradient[name])
        param.sub_(learning_rate * velocity[name])
    return velocity
