"""Named training configurations: the paper's MNIST protocol and a modern one.

``abadi2016`` is the MNIST protocol of Abadi et al., "Deep Learning with
Differential Privacy" (CCS 2016, arXiv:1607.00133), section 5.2. It uses DP-PCA to 60
dimensions, one hidden layer of 1000 ReLU units, lot size 600, clipping norm 4,
learning rate 0.1 decaying linearly to 0.052 over 10 epochs and constant after.
Its three noise levels pair a DP-SGD noise multiplier with a DP-PCA one and an
epsilon target at delta = 1e-5:

=======  ================  ====================  ==============
level    noise_multiplier  pca_noise_multiplier  target epsilon
=======  ================  ====================  ==============
small    2                 4                     8
medium   4                 7                     2
large    8                 16                    0.5
=======  ================  ====================  ==============

A run trains for as many whole epochs as the target allows under the paper's
moments accountant, the PCA release included (:func:`dpkit.budget.epochs_within_budget`),
so the epoch count depends on the number of training examples.

``modern`` uses what DP-SGD practice has learned since: the small tanh CNN of
the torch backend on raw pixels (so no PCA, and no data-dependent step outside
DP-SGD), large lots of 2048 with momentum, a small clipping norm of 0.1, and a
tight accountant (``pld``). It trains a fixed 40 epochs with the smallest noise
multiplier that keeps the whole run within the target
(:func:`dpkit.budget.noise_multiplier_within_budget`). Its noise levels name
targets: small = 8, medium = 3, large = 1; any other target can be passed as
``target_epsilon``. It needs torch (the ``torch`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from dpkit._validate import check_choice, check_number
from dpkit.budget import epochs_within_budget, noise_multiplier_within_budget
from dpkit.training import TrainConfig

NOISE_LEVELS = ("small", "medium", "large")


@dataclass(frozen=True)
class NoiseLevel:
    """One noise level of a named configuration.

    Attributes
    ----------
    target_epsilon : float
        Epsilon the whole run may spend at the configuration's delta.
    noise_multiplier : float or None
        DP-SGD noise multiplier; None when the configuration calibrates it to the target.
    pca_noise_multiplier : float or None
        Noise multiplier of the DP-PCA release; None for a configuration without PCA.
    """

    target_epsilon: float
    noise_multiplier: float | None = None
    pca_noise_multiplier: float | None = None


@dataclass(frozen=True)
class NamedConfig:
    """A named set of :class:`dpkit.TrainConfig` settings and how a run fits its budget.

    Attributes
    ----------
    name : str
    summary : str
        One line for listings and help text.
    settings : mapping
        Fixed training settings (every level).
    levels : mapping of str to NoiseLevel
        The noise levels, keyed by ``"small"``, ``"medium"``, ``"large"``.
    fit : str
        ``"epochs"``: train as many epochs as the target allows at the level's
        noise multiplier. ``"noise"``: train ``settings["epochs"]`` epochs with
        the smallest noise multiplier that meets the target.
    budget_accountant : str
        The accountant that decides what fits the budget.
    """

    name: str
    summary: str
    settings: Mapping[str, Any]
    levels: Mapping[str, NoiseLevel]
    fit: str
    budget_accountant: str


ABADI2016 = NamedConfig(
    name="abadi2016",
    summary="Abadi et al. 2016 MNIST protocol: DP-PCA 60, 1000 ReLU units, lot 600, clip 4, moments accountant",
    settings=MappingProxyType({
        "clip_norm": 4.0,
        "lot_size": 600,
        "learning_rate": 0.1,
        "final_learning_rate": 0.052,
        "decay_epochs": 10.0,
        "momentum": 0.0,
        "hidden": (1000,),
        "pca": 60,
        "pca_public": False,
        "delta": 1e-5,
        "accountant": "moments",
        "sampler": "poisson",
    }),
    levels=MappingProxyType({
        "small": NoiseLevel(target_epsilon=8.0, pca_noise_multiplier=4.0, noise_multiplier=2.0),
        "medium": NoiseLevel(target_epsilon=2.0, pca_noise_multiplier=7.0, noise_multiplier=4.0),
        "large": NoiseLevel(target_epsilon=0.5, pca_noise_multiplier=16.0, noise_multiplier=8.0),
    }),
    fit="epochs",
    budget_accountant="moments",
)

# NOTE: these hyperparameters were set once from published DP-SGD CNN practice
# (large lots, small clipping norm, high learning rate with momentum). They were not
# tuned on the test set, because choosing them on private data would itself cost privacy.
MODERN = NamedConfig(
    name="modern",
    summary="tanh CNN on raw pixels (torch backend), lot 2048, clip 0.1, momentum, pld, noise calibrated to the target",
    settings=MappingProxyType({
        "backend": "torch",
        "model": "cnn",
        "clip_norm": 0.1,
        "lot_size": 2048,
        "batch_size": 1024,
        "epochs": 40,
        "learning_rate": 4.0,
        "final_learning_rate": None,
        "decay_epochs": None,
        "momentum": 0.9,
        "pca": None,
        "delta": 1e-5,
        "accountant": "pld",
        "sampler": "poisson",
    }),
    levels=MappingProxyType({
        "small": NoiseLevel(target_epsilon=8.0),
        "medium": NoiseLevel(target_epsilon=3.0),
        "large": NoiseLevel(target_epsilon=1.0),
    }),
    fit="noise",
    budget_accountant="pld",
)

CONFIGS: Mapping[str, NamedConfig] = MappingProxyType({config.name: config for config in (ABADI2016, MODERN)})


def config_settings(
    name: str,
    *,
    num_examples: int,
    noise: str = "medium",
    target_epsilon: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the :class:`dpkit.TrainConfig` settings of a named configuration, fitted to its budget.

    Parameters
    ----------
    name : str
        A key of :data:`CONFIGS`.
    num_examples : int
        Training examples N of the dataset the run will use; the epoch count
        (or the noise multiplier) that fits the budget depends on it.
    noise : str
        One of :data:`NOISE_LEVELS`.
    target_epsilon : float, optional
        Replaces the level's epsilon target.
    overrides : mapping, optional
        Settings the user gave explicitly. They replace the configuration's
        values, and the budget fit then works with them: an explicit
        ``epochs`` (or ``noise_multiplier``) is kept as given, so the run may
        spend more or less than the target.

    Returns
    -------
    dict
        Keyword arguments for :func:`dpkit.train`, without ``dataset``.
    """
    config = CONFIGS[check_choice("config", name, tuple(CONFIGS))]
    level = config.levels[check_choice("noise", noise, NOISE_LEVELS)]
    target = level.target_epsilon if target_epsilon is None else target_epsilon
    check_number("target_epsilon", target, low=0.0, low_inclusive=False, high=float("inf"), high_inclusive=False)
    explicit = dict(overrides or {})

    settings: dict[str, Any] = dict(config.settings)
    if level.pca_noise_multiplier is not None:
        settings["pca_noise_multiplier"] = level.pca_noise_multiplier
    if level.noise_multiplier is not None:
        settings["noise_multiplier"] = level.noise_multiplier
    settings.update(explicit)

    # The PCA release counts only when PCA runs and its data is private.
    private_pca = settings.get("pca") is not None and not settings.get("pca_public", False)
    pca_noise = settings.get("pca_noise_multiplier", TrainConfig.pca_noise_multiplier) if private_pca else None
    budget = {
        "target_epsilon": target,
        "lot_size": settings["lot_size"],
        "num_examples": num_examples,
        "delta": settings["delta"],
        "accountant": config.budget_accountant,
        "pca_noise_multiplier": pca_noise,
    }
    if config.fit == "epochs" and "epochs" not in explicit:
        settings["epochs"] = epochs_within_budget(noise_multiplier=settings["noise_multiplier"], **budget)
    if config.fit == "noise" and "noise_multiplier" not in explicit:
        settings["noise_multiplier"] = noise_multiplier_within_budget(epochs=settings["epochs"], **budget)
    return settings
