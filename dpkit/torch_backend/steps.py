"""The DP-SGD steps of :mod:`dpkit.dpsgd`, written for any ``torch.nn.Module``.

Each function mirrors its NumPy namesake, so that the two backends compute the same
numbers (the parity test checks one full step to 1e-10 in float64):

* :func:`per_example_gradients`, :func:`clip_and_sum` and :func:`clipped_gradient_sum`
  are steps 2-4; :func:`dense_clipped_sum` is the NumPy backend's fast path for
  networks made only of dense layers and activations,
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

from dpkit._validate import check_choice
from dpkit.sampling import split_into_batches

Tensors = dict[str, torch.Tensor]
CLIP_METHODS = ("auto", "vmap")


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
    # One norm per parameter and example, then the norm of those: the norm of the whole flattened gradient.
    parameter_norms = [torch.linalg.vector_norm(g, dim=tuple(range(1, g.ndim))) for g in gradients.values()]
    norms = torch.linalg.vector_norm(torch.stack(parameter_norms), dim=0)  # (B,)
    factors = clip_norm / norms.clamp(min=clip_norm)
    clipped_sum = {name: torch.tensordot(factors, g, dims=1) for name, g in gradients.items()}
    return clipped_sum, norms


# Layers through which the rows of a batch stay independent and whose only parameters are dense weights and biases.
DENSE_SAFE_LAYERS = (nn.Sequential, nn.Linear, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Flatten, nn.Identity)


def dense_clipped_sum(
    module: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, clip_norm: float
) -> tuple[Tensors, torch.Tensor] | None:
    """The clipped sum of :func:`clip_and_sum` without materialising per-example gradients, or None.

    For a dense layer applied to rows, the weight gradient of example i is the outer
    product of its output gradient ``g_i`` and its input ``a_i``, whose Frobenius norm
    is ``|g_i| |a_i|``; the bias gradient is ``g_i``. So one batched backward pass
    gives every norm, and the clipped sum is ``(s * g)^T a`` per layer with
    ``s_i = clip_norm / max(norm_i, clip_norm)``. This is the method of
    :func:`dpkit.model.clipped_gradient_sum_fast` (Goodfellow, arXiv:1510.01799).

    Returns None, so the caller falls back to ``vmap``, unless every submodule is one
    of ``DENSE_SAFE_LAYERS``, no parameter is shared, and every dense layer runs once
    on a 2-D input (B, features). Under those conditions the result is exact.
    """
    if not all(isinstance(layer, DENSE_SAFE_LAYERS) for layer in module.modules()):
        return None
    if not all(param.requires_grad for param in module.parameters()):
        return None  # autograd cannot reach a frozen layer's output gradient
    dense_layers = [layer for layer in module.modules() if isinstance(layer, nn.Linear)]
    layer_parameter_count = sum(len(list(layer.parameters(recurse=False))) for layer in dense_layers)
    if layer_parameter_count != len(list(module.parameters())):
        return None  # a parameter shared between layers gets the sum of their gradients
    layer_inputs: dict[nn.Module, torch.Tensor] = {}
    layer_outputs: dict[nn.Module, torch.Tensor] = {}
    calls = {layer: 0 for layer in dense_layers}

    def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        layer_inputs[layer], layer_outputs[layer] = inputs[0].detach(), output
        calls[layer] += 1

    handles = [layer.register_forward_hook(record) for layer in dense_layers]
    try:
        with torch.enable_grad():
            logits = module(x)
    finally:
        for handle in handles:
            handle.remove()
    if any(calls[layer] != 1 or layer_inputs[layer].ndim != 2 for layer in dense_layers):
        return None

    # Rows are independent, so the gradient of the summed loss with respect to row i of a
    # layer's output is the gradient of example i's own loss.
    summed_loss = F.cross_entropy(logits, labels, reduction="sum")
    output_gradients = torch.autograd.grad(summed_loss, [layer_outputs[layer] for layer in dense_layers])

    squared_norms = torch.zeros(len(x), dtype=logits.dtype, device=logits.device)
    for layer, delta in zip(dense_layers, output_gradients):
        delta_squared = delta.square().sum(dim=1)  # (B,)
        squared_norms += layer_inputs[layer].square().sum(dim=1) * delta_squared
        if layer.bias is not None:
            squared_norms += delta_squared
    norms = squared_norms.sqrt()
    factors = clip_norm / norms.clamp(min=clip_norm)

    names = {param: name for name, param in module.named_parameters()}
    clipped_sum = {}
    for layer, delta in zip(dense_layers, output_gradients):
        scaled_delta = delta * factors[:, None]  # (B, fan_out)
        clipped_sum[names[layer.weight]] = scaled_delta.T @ layer_inputs[layer]  # (fan_out, fan_in)
        if layer.bias is not None:
            clipped_sum[names[layer.bias]] = scaled_delta.sum(dim=0)
    return clipped_sum, norms.detach()


def clipped_gradient_sum(
    module: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    lot: np.ndarray,
    *,
    clip_norm: float,
    batch_size: int,
    method: str = "auto",
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
    method : {"auto", "vmap"}
        "vmap" materialises every example's gradient with :func:`per_example_gradients`.
        "auto" uses :func:`dense_clipped_sum` where it is exact and "vmap" elsewhere;
        both give the same sum up to float rounding.

    Returns
    -------
    clipped_sum : dict of Tensor, parameter shapes
    norms : Tensor of shape (lot's size,)
        Each example's gradient norm before clipping.

    Guarantee: adding or removing one example changes ``clipped_sum`` by at most
    ``clip_norm`` in L2 norm (over all parameters together).
    """
    check_choice("method", method, CLIP_METHODS)
    params = {name: p.detach() for name, p in module.named_parameters()}
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    norms = []
    for batch in split_into_batches(lot, batch_size):
        index = torch.from_numpy(batch).to(x.device)
        dense = dense_clipped_sum(module, x[index], labels[index], clip_norm=clip_norm) if method == "auto" else None
        if dense is None:
            gradients = per_example_gradients(module, params, x[index], labels[index])
            dense = clip_and_sum(gradients, clip_norm=clip_norm)
        batch_sum, batch_norms = dense
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
