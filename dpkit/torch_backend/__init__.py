"""The DP-SGD algorithm of :mod:`dpkit.dpsgd` in PyTorch, for GPUs and convolutional models.

The steps and their order are those of the NumPy reference (Abadi et al. 2016,
Algorithm 1). Poisson lots come from the trainer in :mod:`dpkit.training`, exactly as
for the NumPy backend. Then, for each lot:

2. per-example gradients with ``torch.func`` (``vmap`` over ``grad``), in physical
   batches, for any module that treats each example on its own: Linear, Conv2d,
   pooling, Flatten, ReLU, tanh and GroupNorm layers, for example (BatchNorm is
   rejected because it mixes the examples of a batch). A network of dense layers
   and activations only takes the NumPy backend's faster route instead, which
   computes each example's gradient norm without materialising the gradient;
3. flat clipping of each example's whole gradient to ``clip_norm``;
4. the sum over the lot;
5. Gaussian noise N(0, (noise_multiplier * clip_norm)^2) on each coordinate of the
   sum, once per lot, drawn on the model's device in the model's dtype, or from a
   cryptographically secure generator with ``secure_noise=True`` (slower);
6. division by the expected lot size;
7. the SGD step, with momentum as in :func:`dpkit.dpsgd.sgd_update`.

On the CPU in float64 one step equals the NumPy backend's to float rounding, given
the same lot and the same noise. This package imports torch, so ``dpkit`` imports it
only when ``backend="torch"`` is requested.
"""

try:
    import torch  # noqa: F401
except ImportError as error:
    raise ImportError(
        "backend='torch' needs PyTorch, which is not installed: install it with `pip install 'dpkit[torch]'` "
        "or follow https://pytorch.org/get-started/locally/"
    ) from error

from dpkit.torch_backend.backend import TorchBackend, make_torch_backend, parse_device
from dpkit.torch_backend.models import build_cnn, build_mlp, check_layers
from dpkit.torch_backend.steps import clip_and_sum, clipped_gradient_sum, dense_clipped_sum, per_example_gradients

__all__ = [
    "TorchBackend",
    "build_cnn",
    "build_mlp",
    "check_layers",
    "clip_and_sum",
    "clipped_gradient_sum",
    "dense_clipped_sum",
    "make_torch_backend",
    "parse_device",
    "per_example_gradients",
]
