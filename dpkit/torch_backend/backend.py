"""`TorchBackend`: DP-SGD for a ``torch.nn.Module``, driven by :func:`dpkit.train` like the NumPy backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from dpkit._validate import check_choice, check_integer, check_number
from dpkit.model import check_clip_norm
from dpkit.torch_backend.models import build_cnn, build_mlp, check_layers
from dpkit.torch_backend.steps import (
    CLIP_METHODS,
    Tensors,
    clipped_gradient_sum,
    gaussian_noise,
    secure_gaussian_noise,
    sgd_update,
)

EVALUATION_BATCH_SIZE = 1024


def parse_device(device: str | torch.device) -> torch.device:
    """Return ``device`` as a ``torch.device`` after checking that torch can use it here."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:0'; got {device!r}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(device)!r} requested, but this torch build ({torch.__version__}) finds no CUDA GPU; use device 'cpu'"
        )
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or a CUDA device such as 'cuda:0'; got {device!r}")
    return parsed


class TorchBackend:
    """DP-SGD steps 2-7 of :mod:`dpkit.dpsgd` for any module that treats examples independently.

    Parameters
    ----------
    module : torch.nn.Module
        The model, already on its device and in its dtype. It takes a batch of
        inputs of shape (B, *input_shape) and returns logits of shape (B, num_classes).
        BatchNorm is rejected (see :func:`dpkit.torch_backend.models.check_layers`).
    input_shape : tuple of int
        Shape of one example as the module expects it, for example (64,) for an MLP
        on digits or (1, 28, 28) for a CNN; the trainer's flat feature rows are
        reshaped to it.
    clip_norm, noise_multiplier, lot_size, batch_size, momentum
        As in :class:`dpkit.dpsgd.NumpyMLPBackend`.
    clip_method : {"auto", "vmap"}
        How per-example gradients are clipped (see
        :func:`dpkit.torch_backend.steps.clipped_gradient_sum`); both give the same step.
    secure_noise : bool
        Draw the noise from the operating system's cryptographically secure
        generator instead of a seeded torch generator: slower, and not reproducible
        from the seed (see :func:`dpkit.torch_backend.steps.secure_gaussian_noise`).

    Attributes
    ----------
    params : list of ndarray
        The parameters as NumPy arrays in module order, with every ``nn.Linear``
        weight transposed to (fan_in, fan_out), so that an MLP's list has the layout
        of :func:`dpkit.model.init_mlp`.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        input_shape: tuple[int, ...],
        clip_norm: float,
        noise_multiplier: float,
        lot_size: int,
        batch_size: int,
        momentum: float = 0.0,
        secure_noise: bool = False,
        clip_method: str = "auto",
    ) -> None:
        check_layers(module)
        self.module = module
        self.input_shape = tuple(input_shape)
        self.clip_norm = check_clip_norm(clip_norm)
        self.noise_multiplier = check_number(
            "noise_multiplier", noise_multiplier, low=0.0, low_inclusive=False, high=float("inf"), high_inclusive=False
        )
        self.lot_size = check_integer("lot_size", lot_size, low=1)
        self.batch_size = check_integer("batch_size", batch_size, low=1)
        self.momentum = check_number("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
        self.secure_noise = bool(secure_noise)
        self.clip_method = check_choice("clip_method", clip_method, CLIP_METHODS)

        first = next(module.parameters())
        self.device, self.dtype = first.device, first.dtype
        # Image models on the CPU run in channels-last layout: there, torch 2.13's max-pooling
        # with indices is about 9x faster than in the default layout (measured on a 256x16x14x14 batch, 1 thread).
        self.memory_format = torch.contiguous_format
        if len(self.input_shape) == 3 and self.device.type == "cpu":
            self.memory_format = torch.channels_last
            module.to(memory_format=self.memory_format)
        self.velocity: Tensors | None = None
        self._generator = torch.Generator(device=self.device)
        self._cached_arrays: dict[int, tuple[np.ndarray, torch.Tensor]] = {}

    def noisy_step(
        self, x: np.ndarray, labels: np.ndarray, lot: np.ndarray, *, learning_rate: float, noise_rng: np.random.Generator
    ) -> np.ndarray:
        """Run steps 2-7 on one lot and return the lot's unclipped gradient norms, shape (lot's size,)."""
        features, targets = self._features(x), self._labels(labels)
        clipped_sum, norms = clipped_gradient_sum(
            self.module,
            features,
            targets,
            lot,
            clip_norm=self.clip_norm,
            batch_size=self.batch_size,
            method=self.clip_method,
        )

        # Step 5, once per lot; the noise std is noise_multiplier * clip_norm because clip_norm is the sum's sensitivity.
        noise = self.draw_noise(noise_rng)
        # Step 6: divide by the expected lot size; the realised size is private.
        gradient = {name: (clipped_sum[name] + noise[name]) / self.lot_size for name in clipped_sum}

        self.velocity = sgd_update(
            self.module, gradient, learning_rate=learning_rate, momentum=self.momentum, velocity=self.velocity
        )
        return norms.cpu().numpy()

    def draw_noise(self, noise_rng: np.random.Generator) -> Tensors:
        """Return N(0, (noise_multiplier * clip_norm)^2) per coordinate, one tensor per parameter.

        The seeded path draws one seed from ``noise_rng`` per lot for a torch generator
        on the model's device, so the same ``noise_rng`` gives the same noise. Tests
        override this method to inject chosen noise.
        """
        shapes = {name: p.shape for name, p in self.module.named_parameters()}
        std = self.noise_multiplier * self.clip_norm
        if self.secure_noise:
            return secure_gaussian_noise(shapes, std=std, dtype=self.dtype, device=self.device)
        self._generator.manual_seed(int(noise_rng.integers(2**63 - 1)))
        return gaussian_noise(shapes, std=std, generator=self._generator, dtype=self.dtype)

    @torch.no_grad()
    def accuracy(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Return the model's accuracy on ``(x, labels)``."""
        features, targets = self._features(x), self._labels(labels)
        correct = 0
        for start in range(0, len(features), EVALUATION_BATCH_SIZE):
            logits = self.module(features[start : start + EVALUATION_BATCH_SIZE])
            correct += int((logits.argmax(dim=1) == targets[start : start + EVALUATION_BATCH_SIZE]).sum())
        return correct / max(len(features), 1)

    @torch.no_grad()
    def loss(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Return the model's mean cross-entropy on ``(x, labels)``."""
        features, targets = self._features(x), self._labels(labels)
        total = 0.0
        for start in range(0, len(features), EVALUATION_BATCH_SIZE):
            logits = self.module(features[start : start + EVALUATION_BATCH_SIZE])
            batch_labels = targets[start : start + EVALUATION_BATCH_SIZE]
            total += float(nn.functional.cross_entropy(logits, batch_labels, reduction="sum"))
        return total / max(len(features), 1)

    @property
    def params(self) -> list[np.ndarray]:
        """The parameters as NumPy arrays, ``nn.Linear`` weights transposed to (fan_in, fan_out)."""
        arrays = []
        for layer in self.module.modules():
            for name, param in layer.named_parameters(recurse=False):
                array = param.detach().cpu().numpy().copy()
                if isinstance(layer, nn.Linear) and name == "weight":
                    array = array.T
                arrays.append(array)
        return arrays

    def _features(self, x: np.ndarray) -> torch.Tensor:
        # The trainer passes the same training array every step, so it is copied to the device once.
        return self._cached(x, lambda: self.as_model_input(torch.as_tensor(x, dtype=self.dtype)))

    def as_model_input(self, rows: torch.Tensor) -> torch.Tensor:
        """Reshape flat feature rows (N, n_features) to (N, *input_shape), in the module's memory layout."""
        images = rows.reshape(len(rows), *self.input_shape)
        return images.contiguous(memory_format=self.memory_format) if images.ndim == 4 else images

    def _labels(self, labels: np.ndarray) -> torch.Tensor:
        return self._cached(labels, lambda: torch.as_tensor(labels, dtype=torch.int64))

    def _cached(self, array: np.ndarray, convert) -> torch.Tensor:
        # Keyed by identity; the stored reference keeps the id from being reused by another array.
        entry = self._cached_arrays.get(id(array))
        if entry is None or entry[0] is not array:
            entry = (array, convert().to(self.device, memory_format=torch.preserve_format))
            self._cached_arrays[id(array)] = entry
        return entry[1]


def make_torch_backend(
    config: Any,
    *,
    num_features: int,
    num_classes: int,
    init_rng: np.random.Generator,
    image_shape: tuple[int, int] | None = None,
    dtype: torch.dtype = torch.float32,
) -> TorchBackend:
    """Build the torch backend for a :class:`dpkit.training.TrainConfig`.

    ``config.model`` selects the MLP of :func:`~dpkit.torch_backend.models.build_mlp`
    (``config.hidden`` widths, same initial values as the NumPy backend for the same
    ``init_rng``) or the CNN of :func:`~dpkit.torch_backend.models.build_cnn`, which
    needs ``image_shape``. The default dtype is float32; pass ``torch.float64`` to
    compare with the NumPy backend, which computes in float64.
    """
    device = parse_device(config.device)
    if config.model == "cnn":
        if image_shape is None or image_shape[0] * image_shape[1] != num_features:
            raise ValueError(
                f"model 'cnn' needs the data as images, but num_features={num_features} does not match "
                f"image_shape={image_shape}; do not combine it with pca"
            )
        module = build_cnn(tuple(image_shape), num_classes, rng=init_rng, dtype=dtype, device=device)
        input_shape: tuple[int, ...] = (1, *image_shape)
    else:
        module = build_mlp((num_features, *config.hidden, num_classes), rng=init_rng, dtype=dtype, device=device)
        input_shape = (num_features,)

    return TorchBackend(
        module,
        input_shape=input_shape,
        clip_norm=config.clip_norm,
        noise_multiplier=config.noise_multiplier,
        lot_size=config.lot_size,
        batch_size=config.batch_size,
        momentum=config.momentum,
        secure_noise=config.secure_noise,
    )
