"""`dpkit.train`: one DP-SGD run from dataset name to accuracy and epsilon.

The trainer validates every argument, loads the data, optionally projects it with
(DP-)PCA, then runs lots through a backend (:class:`dpkit.dpsgd.NumpyMLPBackend`, or
the torch backend) and records every step, and the PCA, with an
:class:`dpkit.accounting.Accountant`. The epsilon it reports is that accountant's
bound for exactly the steps that ran.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dpkit._validate import check_choice, check_integer, check_number
from dpkit.accounting import ACCOUNTANTS, Accountant, privacy_statement
from dpkit.data import DATASETS, Dataset, load
from dpkit.dpsgd import NumpyMLPBackend, learning_rate_at
from dpkit.model import CLIP_METHODS, check_clip_norm
from dpkit.pca import fit_dp_pca, fit_pca
from dpkit.sampling import SAMPLERS, poisson_lots, shuffled_lots, steps_per_epoch

logger = logging.getLogger(__name__)

BACKENDS = ("numpy", "torch")
MODELS = ("mlp", "cnn")


class ShuffledLotsWarning(UserWarning):
    """Training used shuffled fixed-size lots, which the Poisson accounting does not cover."""


@dataclass
class TrainConfig:
    """Every setting of a run; ``dpkit.train`` builds one from its keyword arguments."""

    dataset: str = "digits"
    noise_multiplier: float = 1.1
    clip_norm: float = 1.0
    lot_size: int = 64
    epochs: int = 10
    learning_rate: float = 0.1
    final_learning_rate: float | None = None
    decay_epochs: float | None = None
    momentum: float = 0.0
    hidden: tuple[int, ...] = (1000,)
    pca: int | None = None
    pca_noise_multiplier: float = 16.0
    pca_public: bool = False
    delta: float = 1e-5
    accountant: str = "rdp"
    sampler: str = "poisson"
    batch_size: int = 256
    clip_method: str = "fast"
    seed: int = 0
    backend: str = "numpy"
    device: str = "cpu"
    model: str = "mlp"
    secure_noise: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range; whole floats become ints (64.0 to 64)."""
        check_number("noise_multiplier", self.noise_multiplier, low=0.0, low_inclusive=False, high=math.inf, high_inclusive=False)
        check_clip_norm(self.clip_norm)
        self.lot_size = check_integer("lot_size", self.lot_size, low=1)
        self.epochs = check_integer("epochs", self.epochs, low=1)
        check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False, high=math.inf, high_inclusive=False)
        if self.final_learning_rate is not None:
            check_number("final_learning_rate", self.final_learning_rate, low=0.0, high=math.inf, high_inclusive=False)
            check_number("decay_epochs", self.decay_epochs, low=0.0, low_inclusive=False, high=math.inf, high_inclusive=False)
        check_number("momentum", self.momentum, low=0.0, high=1.0, high_inclusive=False)
        self.hidden = tuple(check_integer("hidden", width, low=1) for width in self.hidden)
        if self.pca is not None:
            self.pca = check_integer("pca", self.pca, low=1)
            if not self.pca_public:
                check_number(
                    "pca_noise_multiplier", self.pca_noise_multiplier, low=0.0, low_inclusive=False, high=math.inf, high_inclusive=False
                )
        check_number("delta", self.delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        check_choice("accountant", self.accountant, ACCOUNTANTS)
        check_choice("sampler", self.sampler, SAMPLERS)
        self.batch_size = check_integer("batch_size", self.batch_size, low=1)
        check_choice("clip_method", self.clip_method, tuple(CLIP_METHODS))
        self.seed = check_integer("seed", self.seed, low=0)
        check_choice("backend", self.backend, BACKENDS)
        check_choice("model", self.model, MODELS)
        if self.secure_noise and self.backend != "torch":
            raise ValueError("secure_noise=True needs backend 'torch'; the NumPy backend draws noise from numpy.random")
        if self.model == "cnn" and self.backend != "torch":
            raise ValueError("model 'cnn' needs backend 'torch'; the NumPy backend trains only the MLP ('mlp')")
        if self.model == "cnn" and self.pca is not None:
            raise ValueError(f"model 'cnn' needs the images themselves, so pca must be None; got pca={self.pca}")
        if not isinstance(self.device, str) or (self.backend != "torch" and self.device != "cpu"):
            raise ValueError(f"device must be 'cpu' for backend 'numpy' (other devices need backend 'torch'); got {self.device!r}")


@dataclass
class TrainResult:
    """The outcome of a run: accuracy, the privacy spent, and a per-epoch history.

    ``epsilon`` is an upper bound for the run under add/remove-one neighbours and
    Poisson sampling. When ``poisson_accounting`` is False (shuffled lots), it is only
    the number the Poisson analysis would give, not a proven bound.
    """

    test_accuracy: float
    epsilon: float
    delta: float
    accountant: str
    history: list[dict[str, float]]
    config: dict[str, Any]
    steps: int
    sampler: str
    poisson_accounting: bool
    pca: str
    privacy_statement: str
    params: list[np.ndarray] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return everything but the parameters, as JSON-ready Python types."""
        record = asdict(self)
        record.pop("params")
        return record


def train(
    *,
    dataset: str | Dataset = "digits",
    data_dir: str | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
    verbose: bool = False,
    config: str | None = None,
    noise: str = "medium",
    target_epsilon: float | None = None,
    **settings: Any,
) -> TrainResult:
    """Train a model with DP-SGD and return its accuracy and privacy cost.

    Parameters
    ----------
    dataset : str or Dataset
        A name from ``dpkit.data.DATASETS`` or a :class:`dpkit.data.Dataset`.
    data_dir : str, optional
        Where to look for and download dataset files.
    callback : callable, optional
        Called with each epoch's history record as soon as it is computed.
    verbose : bool
        Print one line per epoch.
    config : str, optional
        A named configuration from ``dpkit.configs.CONFIGS`` (``"abadi2016"``,
        ``"modern"``). Its settings, fitted to its epsilon budget for this
        dataset's size, are the defaults, and ``**settings`` override them.
    noise : str
        Noise level of the named configuration: "small", "medium" or "large".
    target_epsilon : float, optional
        Replaces the named configuration's epsilon target for that level.
    **settings
        Any field of :class:`TrainConfig`: ``noise_multiplier``, ``clip_norm``,
        ``lot_size``, ``epochs``, ``learning_rate``, ``delta``, ``accountant``, ...
    """
    unknown = sorted(set(settings) - set(TrainConfig.__dataclass_fields__) - {"dataset"})
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    dataset_name = dataset if isinstance(dataset, str) else dataset.name
    if isinstance(dataset, str):
        check_choice("dataset", dataset, DATASETS)
    if config is None and target_epsilon is not None:
        raise ValueError(f"target_epsilon={target_epsilon!r} needs a named configuration (config='abadi2016' or 'modern')")
    if config is None:
        # Validate before loading, which can take seconds.
        train_config = _build_config(dataset_name, settings)
        data = load(dataset, data_dir=data_dir) if isinstance(dataset, str) else dataset
    else:
        from dpkit.configs import CONFIGS, NOISE_LEVELS, config_settings

        check_choice("config", config, tuple(CONFIGS))
        check_choice("noise", noise, NOISE_LEVELS)
        data = load(dataset, data_dir=data_dir) if isinstance(dataset, str) else dataset

        # The epochs (or noise) that fit the named budget depend on the dataset's size.
        fitted = config_settings(
            config, num_examples=len(data.x_train), noise=noise, target_epsilon=target_epsilon, overrides=settings
        )
        train_config = _build_config(dataset_name, fitted)

    num_examples = len(data.x_train)
    check_integer("lot_size", train_config.lot_size, low=1, high=num_examples)
    if train_config.delta >= 1.0 / num_examples:
        # A mechanism that publishes one random example whole is (0, 1/N)-DP, so such a delta protects little.
        warnings.warn(
            f"delta={train_config.delta:g} is not below 1/N = {1.0 / num_examples:.3g} for N={num_examples} training "
            "examples; a guarantee with such a delta allows a whole example to be revealed. Choose delta < 1/N.",
            UserWarning,
            stacklevel=2,
        )
    return _run(train_config, data, callback=callback, verbose=verbose)


def _build_config(dataset_name: str, settings: dict[str, Any]) -> TrainConfig:
    if "hidden" in settings:
        settings = {**settings, "hidden": tuple(settings["hidden"])}
    config = TrainConfig(dataset=dataset_name, **settings)
    config.validate()
    return config


def _run(config: TrainConfig, data: Dataset, *, callback, verbose: bool) -> TrainResult:
    init_seed, sampling_seed, noise_seed, pca_seed = np.random.SeedSequence(config.seed).spawn(4)
    accountant = Accountant()

    x_train, x_test, pca_kind = _project(config, data, accountant, np.random.default_rng(pca_seed))
    num_examples = len(x_train)
    sampling_rate = config.lot_size / num_examples
    steps_each_epoch = steps_per_epoch(num_examples, config.lot_size)
    total_steps = config.epochs * steps_each_epoch

    sampling_rng = np.random.default_rng(sampling_seed)
    if config.sampler == "poisson":
        lots = poisson_lots(num_examples, sampling_rate, total_steps, rng=sampling_rng)
    else:
        warnings.warn(
            "sampler='shuffle' draws fixed-size lots, which the Poisson-sampling accountants do not cover: "
            "the reported epsilon is not a proven bound for this run. Use sampler='poisson' for a guarantee.",
            ShuffledLotsWarning,
            stacklevel=3,
        )
        lots = shuffled_lots(num_examples, config.lot_size, total_steps, rng=sampling_rng)

    backend = _make_backend(
        config, x_train.shape[1], data.num_classes, np.random.default_rng(init_seed), image_shape=data.image_shape
    )
    noise_rng = np.random.default_rng(noise_seed)
    history: list[dict[str, float]] = []
    for step, lot in enumerate(lots):
        epoch_progress = step / steps_each_epoch
        learning_rate = learning_rate_at(
            epoch_progress,
            learning_rate=config.learning_rate,
            final_learning_rate=config.final_learning_rate,
            decay_epochs=config.decay_epochs,
        )
        backend.noisy_step(x_train, data.y_train, lot, learning_rate=learning_rate, noise_rng=noise_rng)

        # Every lot, even an empty one, is a release of the noisy sum and is counted.
        accountant.add_sgd(noise_multiplier=config.noise_multiplier, sampling_rate=sampling_rate, steps=1)

        if (step + 1) % steps_each_epoch == 0:
            record = {
                "epoch": (step + 1) // steps_each_epoch,
                "steps": step + 1,
                "loss": backend.loss(x_train, data.y_train),
                "test_accuracy": backend.accuracy(x_test, data.y_test),
                "epsilon": accountant.epsilon(delta=config.delta, accountant=config.accountant),
            }
            history.append(record)
            logger.debug("epoch %d: %s", record["epoch"], record)
            if verbose:
                print(_format_record(record), flush=True)
            if callback is not None:
                callback(record)

    final = history[-1]
    statement = privacy_statement(accountant, delta=config.delta, accountant=config.accountant, sampler=config.sampler)
    if pca_kind == "public":
        statement += " The PCA projection was fitted on data declared public, so its cost is not included."
    return TrainResult(
        test_accuracy=final["test_accuracy"],
        epsilon=final["epsilon"],
        delta=config.delta,
        accountant=config.accountant,
        history=history,
        config=asdict(config),
        steps=accountant.steps,
        sampler=config.sampler,
        poisson_accounting=config.sampler == "poisson",
        pca=pca_kind,
        privacy_statement=statement,
        params=getattr(backend, "params", []),
    )


def _project(config: TrainConfig, data: Dataset, accountant: Accountant, rng: np.random.Generator):
    """Apply the PCA projection, if any, and record its privacy cost."""
    if config.pca is None:
        return data.x_train, data.x_test, "none"
    check_integer("pca", config.pca, low=1, high=data.x_train.shape[1])

    if config.pca_public:
        projection = fit_pca(data.x_train, n_components=config.pca)
        kind = "public"
    else:
        projection = fit_dp_pca(
            data.x_train, n_components=config.pca, noise_multiplier=config.pca_noise_multiplier, rng=rng
        )
        accountant.add_gaussian(noise_multiplier=config.pca_noise_multiplier)
        kind = "dp"
    return projection.transform(data.x_train), projection.transform(data.x_test), kind


def _make_backend(
    config: TrainConfig, num_features: int, num_classes: int, init_rng: np.random.Generator, *, image_shape: tuple[int, int]
):
    if config.backend == "torch":
        from dpkit.torch_backend import make_torch_backend  # imported only when asked for

        return make_torch_backend(
            config, num_features=num_features, num_classes=num_classes, init_rng=init_rng, image_shape=image_shape
        )
    return NumpyMLPBackend(
        layer_sizes=(num_features, *config.hidden, num_classes),
        clip_norm=config.clip_norm,
        noise_multiplier=config.noise_multiplier,
        lot_size=config.lot_size,
        batch_size=config.batch_size,
        momentum=config.momentum,
        clip_method=config.clip_method,
        init_rng=init_rng,
    )


def _format_record(record: dict[str, float]) -> str:
    return (
        f"epoch {record['epoch']:3d}  steps {record['steps']:6d}  loss {record['loss']:.4f}  "
        f"test_accuracy {record['test_accuracy']:.4f}  epsilon {record['epsilon']:.4f}"
    )
