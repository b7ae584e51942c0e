"""A multilayer perceptron in NumPy with per-example gradients and their norms.

The model is ``logits = W_L relu(... relu(x W_1 + b_1) ...) + b_L`` with a softmax
cross-entropy loss. Parameters are a flat list ``[W_1, b_1, ..., W_L, b_L]`` where
``W_l`` has shape (fan_in, fan_out) and ``b_l`` has shape (fan_out,).

DP-SGD needs the gradient of each example's loss separately, so that each one can be
clipped. Two ways to get the sum of clipped gradients are offered:

* :func:`clipped_gradient_sum_plain` materialises every example's gradient, clips it
  and sums. It is the readable reference and costs memory proportional to
  batch size times parameter count.
* :func:`clipped_gradient_sum_fast` never materialises them. For a dense layer the
  weight gradient of example i is the outer product ``a_i ⊗ g_i`` of its input
  activation and its output gradient, whose Frobenius norm is ``|a_i| |g_i|``. The
  bias gradient is ``g_i`` itself. With the norms known, the clipped sum is one
  matrix product per layer: ``a^T (s * g)`` with ``s_i = min(1, C / norm_i)``.
  This is the per-example norm trick of Goodfellow, "Efficient Per-Example Gradient
  Computations" (arXiv:1510.01799, 2015).
"""

from __future__ import annotations

import numpy as np

from dpkit._validate import check_integer, check_number


def init_mlp(layer_sizes: list[int] | tuple[int, ...], *, rng: np.random.Generator) -> list[np.ndarray]:
    """Return He-initialised parameters ``[W_1, b_1, ..., W_L, b_L]`` for the given widths.

    ``layer_sizes`` lists the input width, each hidden width, then the number of classes.
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes must list at least an input and an output width; got {layer_sizes!r}")
    for size in layer_sizes:
        check_integer("layer_sizes entry", size, low=1)

    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        params.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)))
        params.append(np.zeros(fan_out))
    return params


def forward(params: list[np.ndarray], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run the network on a batch.

    Returns the logits, shape (B, num_classes), and the input of every layer
    (``x`` first, then each hidden activation), which the backward pass needs.
    """
    layer_inputs = [x]
    hidden = x
    num_layers = len(params) // 2
    for layer in range(num_layers):
        weight, bias = params[2 * layer], params[2 * layer + 1]
        pre_activation = hidden @ weight + bias  # (B, fan_out)
        if layer < num_layers - 1:
            hidden = np.maximum(pre_activation, 0.0)
            layer_inputs.append(hidden)
        else:
            hidden = pre_activation
    return hidden, layer_inputs


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each example's loss, shape (B,), and its gradient with respect to the logits, (B, K)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normaliser = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(len(labels))
    losses = log_normaliser - shifted[rows, labels]

    probabilities = np.exp(shifted - log_normaliser[:, None])
    probabilities[rows, labels] -= 1.0
    return losses, probabilities


def output_gradients(params: list[np.ndarray], layer_inputs: list[np.ndarray], logit_gradients: np.ndarray) -> list[np.ndarray]:
    """Backpropagate to the gradient of each example's loss with respect to each layer's output.

    Returns one array per layer, shape (B, fan_out), ordered first layer to last.
    Nothing is summed over the batch, so every row belongs to one example.
    """
    num_layers = len(params) // 2
    gradients = [logit_gradients]
    for layer in range(num_layers - 1, 0, -1):
        weight = params[2 * layer]
        upstream = gradients[0] @ weight.T  # (B, fan_in of this layer)
        # The ReLU passes gradient only where its output was positive.
        gradients.insert(0, upstream * (layer_inputs[layer] > 0.0))
    return gradients


def per_example_gradients(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Return the gradient of each example's loss, one array per parameter, shape (B, *param.shape)."""
    logits, layer_inputs = forward(params, x)
    _, logit_gradients = softmax_cross_entropy(logits, labels)
    deltas = output_gradients(params, layer_inputs, logit_gradients)

    gradients = []
    for layer_input, delta in zip(layer_inputs, deltas):
        gradients.append(np.einsum("bi,bo->bio", layer_input, delta))  # (B, fan_in, fan_out)
        gradients.append(delta.copy())  # (B, fan_out)
    return gradients


def per_example_gradient_norms(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return the L2 norm of each example's whole gradient, shape (B,), without materialising it."""
    logits, layer_inputs = forward(params, x)
    _, logit_gradients = softmax_cross_entropy(logits, labels)
    deltas = output_gradients(params, layer_inputs, logit_gradients)
    return _norms_from_factors(layer_inputs, deltas)


def _norms_from_factors(layer_inputs: list[np.ndarray], deltas: list[np.ndarray]) -> np.ndarray:
    squared = np.zeros(len(deltas[0]))
    for layer_input, delta in zip(layer_inputs, deltas):
        delta_squared = np.einsum("bo,bo->b", delta, delta)
        # |a ⊗ g|_F^2 = |a|^2 |g|^2 for the weight, plus |g|^2 for the bias.
        squared += np.einsum("bi,bi->b", layer_input, layer_input) * delta_squared + delta_squared
    return np.sqrt(squared)


def clip_factors(norms: np.ndarray, clip_norm: float) -> np.ndarray:
    """Return ``min(1, clip_norm / norm)`` per example; an all-zero gradient keeps factor 1."""
    return clip_norm / np.maximum(norms, clip_norm)


def clipped_gradient_sum_plain(
    params: list[np.ndarray], x: np.ndarray, labels: np.ndarray, *, clip_norm: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """Clip each example's materialised gradient to L2 norm ``clip_norm`` and sum over the batch.

    Returns the clipped sum (one array per parameter) and the unclipped norms, shape (B,).
    """
    gradients = per_example_gradients(params, x, labels)
    flat = np.concatenate([g.reshape(len(x), -1) for g in gradients], axis=1)  # (B, num_params)
    norms = np.linalg.norm(flat, axis=1)
    factors = clip_factors(norms, clip_norm)

    clipped_sum = [np.tensordot(factors, g, axes=(0, 0)) for g in gradients]
    return clipped_sum, norms


def clipped_gradient_sum_fast(
    params: list[np.ndarray], x: np.ndarray, labels: np.ndarray, *, clip_norm: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """Same result as :func:`clipped_gradient_sum_plain`, with one matrix product per layer.

    Memory is that of ordinary backpropagation: activations and output gradients,
    shape (B, width), never (B, num_params).
    """
    logits, layer_inputs = forward(params, x)
    _, logit_gradients = softmax_cross_entropy(logits, labels)
    deltas = output_gradients(params, layer_inputs, logit_gradients)
    norms = _norms_from_factors(layer_inputs, deltas)
    factors = clip_factors(norms, clip_norm)

    clipped_sum = []
    for layer_input, delta in zip(layer_inputs, deltas):
        scaled_delta = delta * factors[:, None]
        clipped_sum.append(layer_input.T @ scaled_delta)  # (fan_in, fan_out)
        clipped_sum.append(scaled_delta.sum(axis=0))
    return clipped_sum, norms


CLIP_METHODS = {"fast": clipped_gradient_sum_fast, "plain": clipped_gradient_sum_plain}


def mean_loss_and_gradient(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Return the mean loss and its gradient: ordinary, non-private backpropagation."""
    logits, layer_inputs = forward(params, x)
    losses, logit_gradients = softmax_cross_entropy(logits, labels)
    deltas = output_gradients(params, layer_inputs, logit_gradients)

    gradient = []
    for layer_input, delta in zip(layer_inputs, deltas):
        gradient.append(layer_input.T @ delta / len(x))
        gradient.append(delta.mean(axis=0))
    return float(losses.mean()), gradient


def mean_loss(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray, *, batch_size: int = 4096) -> float:
    """Return the mean cross-entropy over a data set, evaluated in batches to bound memory."""
    total = 0.0
    for start in range(0, len(x), batch_size):
        logits, _ = forward(params, x[start : start + batch_size])
        losses, _ = softmax_cross_entropy(logits, labels[start : start + batch_size])
        total += float(losses.sum())
    return total / max(len(x), 1)


def accuracy(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray, *, batch_size: int = 4096) -> float:
    """Return the fraction of examples whose largest logit is the true class."""
    correct = 0
    for start in range(0, len(x), batch_size):
        logits, _ = forward(params, x[start : start + batch_size])
        correct += int((logits.argmax(axis=1) == labels[start : start + batch_size]).sum())
    return correct / max(len(x), 1)


def check_clip_norm(clip_norm: float) -> float:
    """Validate a clipping norm: a finite number in (0, inf)."""
    return check_number("clip_norm", clip_norm, low=0.0, low_inclusive=False, high=np.inf, high_inclusive=False)
