"""DP-SGD, one named function per step of Abadi et al. (2016), Algorithm 1.

For every lot:

1. Sample the lot: each example independently with probability q = L / N
   (:mod:`dpkit.sampling`). An empty lot is still a step.
2. Compute each example's gradient, in physical batches (:mod:`dpkit.model`).
3. Clip each example's whole gradient to L2 norm ``clip_norm`` (flat clipping).
4. Sum the clipped gradients over the lot (:func:`clipped_gradient_sum` does 2-4).
5. Add N(0, (noise_multiplier * clip_norm)^2) to every coordinate of the sum, once
   per lot (:func:`add_gaussian_noise`).
6. Divide by the expected lot size L, not the realised one
   (:func:`average_over_expected_lot`).
7. Take the descent step (:func:`sgd_update`). The caller records the step with the
   accountant.

Guarantee: with add/remove-one neighbours, one example changes the clipped sum of
step 4 by at most ``clip_norm`` in L2 norm, so step 5 is the sampled Gaussian
mechanism with noise multiplier ``noise_multiplier``. Dividing by the fixed L (step 6)
and the update (step 7) are post-processing; dividing by the realised lot size would
leak it. The learning rate, its schedule and momentum act on the noisy gradient only
and cost no privacy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dpkit.model import CLIP_METHODS, accuracy, init_mlp, mean_loss
from dpkit.sampling import split_into_batches


def clipped_gradient_sum(
    params: list[np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    lot: np.ndarray,
    *,
    clip_norm: float,
    batch_size: int,
    method: str = "fast",
) -> tuple[list[np.ndarray], np.ndarray]:
    """Steps 2-4: sum of per-example gradients clipped to ``clip_norm`` over a lot.

    Parameters
    ----------
    params : list of ndarray
        The model's parameters.
    x : ndarray of shape (N, n_features)
        All training examples; ``lot`` indexes into them.
    labels : ndarray of shape (N,)
    lot : ndarray of int, shape (lot's size,)
        Indices of the lot's examples; may be empty.
    clip_norm : float
        Bound C on each example's gradient L2 norm.
    batch_size : int
        Physical batch: how many examples are processed at once in memory.
    method : {"fast", "plain"}
        How per-example gradients are clipped; both give the same sum.

    Returns
    -------
    clipped_sum : list of ndarray, shapes of ``params``
    norms : ndarray of shape (lot's size,)
        Each example's gradient norm before clipping.
    """
    clip = CLIP_METHODS[method]
    total = [np.zeros_like(p) for p in params]
    norms = []
    for batch in split_into_batches(lot, batch_size):
        batch_sum, batch_norms = clip(params, x[batch], labels[batch], clip_norm=clip_norm)
        for accumulated, part in zip(total, batch_sum):
            accumulated += part
        norms.append(batch_norms)
    return total, np.concatenate(norms) if norms else np.zeros(0)


def add_gaussian_noise(
    gradient_sum: list[np.ndarray], *, noise_multiplier: float, clip_norm: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Step 5: add N(0, (noise_multiplier * clip_norm)^2) to each coordinate of the clipped sum.

    The noise standard deviation is tied to ``clip_norm`` because that is the sum's
    L2 sensitivity after clipping.
    """
    noise_std = noise_multiplier * clip_norm
    return [part + rng.normal(0.0, noise_std, size=part.shape) for part in gradient_sum]


def average_over_expected_lot(noisy_sum: list[np.ndarray], *, lot_size: float) -> list[np.ndarray]:
    """Step 6: divide by the expected lot size L; the realised size is private and never used."""
    return [part / lot_size for part in noisy_sum]


def sgd_update(
    params: list[np.ndarray],
    gradient: list[np.ndarray],
    *,
    learning_rate: float,
    momentum: float = 0.0,
    velocity: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Step 7: a (momentum) gradient-descent step on the noisy gradient.

    Returns the new parameters and the new velocity (``None`` without momentum).
    """
    if momentum == 0.0:
        return [p - learning_rate * g for p, g in zip(params, gradient)], None

    if velocity is None:
        velocity = [np.zeros_like(p) for p in params]
    velocity = [momentum * v + g for v, g in zip(velocity, gradient)]
    return [p - learning_rate * v for p, v in zip(params, velocity)], velocity


def learning_rate_at(
    epoch_progress: float, *, learning_rate: float, final_learning_rate: float | None, decay_epochs: float | None
) -> float:
    """Return the learning rate after ``epoch_progress`` epochs.

    Constant when ``final_learning_rate`` is None; otherwise the linear decay of
    Abadi et al. (2016, section 5.2): from ``learning_rate`` down to
    ``final_learning_rate`` over ``decay_epochs`` epochs, then constant.
    """
    if final_learning_rate is None or not decay_epochs:
        return learning_rate
    fraction = min(epoch_progress / decay_epochs, 1.0)
    return learning_rate + fraction * (final_learning_rate - learning_rate)


@dataclass
class NumpyMLPBackend:
    """The reference backend: an MLP trained by the steps above, in NumPy.

    The trainer in :mod:`dpkit.training` drives any backend with the same three
    methods (``noisy_step``, ``accuracy``, ``loss``), so the torch backend plugs in
    beside this one.
    """

    layer_sizes: tuple[int, ...]
    clip_norm: float
    noise_multiplier: float
    lot_size: int
    batch_size: int
    momentum: float = 0.0
    clip_method: str = "fast"
    init_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    params: list[np.ndarray] = field(init=False)
    velocity: list[np.ndarray] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.params = init_mlp(self.layer_sizes, rng=self.init_rng)

    def noisy_step(
        self, x: np.ndarray, labels: np.ndarray, lot: np.ndarray, *, learning_rate: float, noise_rng: np.random.Generator
    ) -> np.ndarray:
        """Run steps 2-7 on one lot and return the lot's unclipped gradient norms."""
        clipped_sum, norms = clipped_gradient_sum(
            self.params, x, labels, lot, clip_norm=self.clip_norm, batch_size=self.batch_size, method=self.clip_method
        )
        noisy_sum = add_gaussian_noise(
            clipped_sum, noise_multiplier=self.noise_multiplier, clip_norm=self.clip_norm, rng=noise_rng
        )
        gradient = average_over_expected_lot(noisy_sum, lot_size=self.lot_size)
        self.params, self.velocity = sgd_update(
            self.params, gradient, learning_rate=learning_rate, momentum=self.momentum, velocity=self.velocity
        )
        return norms

    def accuracy(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Return the model's accuracy on ``(x, labels)``."""
        return accuracy(self.params, x, labels)

    def loss(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Return the model's mean cross-entropy on ``(x, labels)``."""
        return mean_loss(self.params, x, labels)
