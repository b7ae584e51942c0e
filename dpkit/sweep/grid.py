"""Sweep grids: expand a product of settings into runs, and validate every value first.

A grid maps some of :data:`SWEEP_PARAMETERS` to lists of values; every other
:class:`dpkit.TrainConfig` setting is fixed for the whole sweep. Each (grid point,
seed) pair becomes one :class:`Run` with a fully normalised configuration and its
store key, and every value is checked before any training starts.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from dpkit._validate import check_choice, check_integer
from dpkit.data import DATASETS
from dpkit.sweep.store import config_key
from dpkit.training import TrainConfig

#: Settings a grid may vary; the others are fixed for a whole sweep.
SWEEP_PARAMETERS = ("noise_multiplier", "clip_norm", "lot_size", "epochs", "learning_rate")

# Settings that the sweep itself sets; they cannot be passed as fixed settings.
_RESERVED = ("dataset", "seed")


@dataclass(frozen=True)
class Run:
    """One training run of a sweep: a grid point and a seed.

    ``point`` contains the swept values, ``config`` every :class:`dpkit.TrainConfig`
    setting in JSON types, and ``key`` the store key of ``config`` with the dpkit version.
    """

    point: tuple[tuple[str, Any], ...]
    seed: int
    config: dict[str, Any]
    key: str


def normalise_config(config: TrainConfig) -> dict[str, Any]:
    """Return ``config`` as a dict of JSON types, with each value cast to its field's declared type.

    This makes ``lot_size=64.0`` and ``lot_size=64``, or ``clip_norm=1`` and
    ``clip_norm=1.0``, the same configuration and so the same store key.
    """
    declared = {field.name: str(field.type) for field in fields(TrainConfig)}
    normalised: dict[str, Any] = {}
    for name, value in asdict(config).items():
        kind = declared[name]
        if value is None or isinstance(value, (bool, str)):
            normalised[name] = value
        elif kind.startswith("tuple"):
            normalised[name] = [int(width) for width in value]
        elif kind.startswith("float"):
            normalised[name] = float(value)
        elif kind.startswith("int"):
            normalised[name] = int(value)
        else:
            normalised[name] = value
    return normalised


def expand_grid(
    grid: Mapping[str, Any],
    *,
    dataset: str,
    seeds: Iterable[int],
    settings: Mapping[str, Any],
    version: str,
) -> list[Run]:
    """Validate a grid and return its runs, grid point by grid point, seeds innermost.

    Parameters
    ----------
    grid : mapping
        Keys from :data:`SWEEP_PARAMETERS`; each value a number or a sequence of numbers.
        Repeated values are dropped, keeping the first.
    dataset : str
        A name from ``dpkit.data.DATASETS``.
    seeds : iterable of int
        One run per seed at every grid point.
    settings : mapping
        Fixed :class:`dpkit.TrainConfig` settings shared by every run.
    version : str
        The dpkit version that goes into each store key.

    Raises
    ------
    ValueError
        Naming the parameter, its allowed range and the value, for the first
        invalid grid value, seed or setting. Nothing is trained before this check.
    """
    check_choice("dataset", dataset, DATASETS)
    axes = _grid_axes(grid)
    seed_list = _unique(check_integer("seeds", seed, low=0) for seed in _as_list("seeds", seeds))
    fixed = _fixed_settings(settings, swept=axes)

    # Check each grid value on its own, so the error names the value that is wrong.
    for name, values in axes.items():
        for value in values:
            _build_config(dataset, {**fixed, name: value}, seed=seed_list[0])

    runs = []
    names = list(axes)
    for values in itertools.product(*axes.values()):
        point = dict(zip(names, values))
        for seed in seed_list:
            config = normalise_config(_build_config(dataset, {**fixed, **point}, seed=seed))
            swept = tuple((name, config[name]) for name in names)
            runs.append(Run(point=swept, seed=seed, config=config, key=config_key(config, version=version)))
    return runs


def check_against_dataset(runs: Sequence[Run], *, num_examples: int, num_features: int) -> None:
    """Check the settings that depend on the data: lot_size at most N, pca at most the feature count."""
    for run in runs:
        check_integer("lot_size", run.config["lot_size"], low=1, high=num_examples)
        if run.config["pca"] is not None:
            check_integer("pca", run.config["pca"], low=1, high=num_features)


def _grid_axes(grid: Mapping[str, Any]) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a mapping from parameter names to lists of values; got {type(grid).__name__}")
    axes = {}
    for name, values in grid.items():
        check_choice("grid parameter", name, SWEEP_PARAMETERS)
        axes[name] = _unique(_as_list(name, values))
    return axes


def _as_list(name: str, values: Any) -> list[Any]:
    """Wrap a single number in a list; reject strings and empty sequences."""
    if isinstance(values, numbers.Number):
        return [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a number or a non-empty sequence of numbers; got {values!r}")
    listed = list(values)
    if not listed:
        raise ValueError(f"{name} must be a non-empty sequence of numbers; got an empty sequence")
    return listed


def _unique(values: Iterable[Any]) -> list[Any]:
    unique: list[Any] = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


def _fixed_settings(settings: Mapping[str, Any], *, swept: Mapping[str, Any]) -> dict[str, Any]:
    known = {field.name for field in fields(TrainConfig)}
    for name in settings:
        if name in _RESERVED:
            raise ValueError(f"{name} is set by the sweep itself; pass dataset= and seeds= to the sweep instead")
        if name not in known:
            raise ValueError(f"unknown training setting {name!r}; expected one of {', '.join(sorted(known - set(_RESERVED)))}")
        if name in swept:
            raise ValueError(f"{name} is both in the grid and a fixed setting; give it in one place only")
    fixed = dict(settings)
    if "hidden" in fixed:
        fixed["hidden"] = tuple(fixed["hidden"])
    return fixed


def _build_config(dataset: str, settings: Mapping[str, Any], *, seed: int) -> TrainConfig:
    config = TrainConfig(dataset=dataset, seed=seed, **settings)
    config.validate()
    return config
