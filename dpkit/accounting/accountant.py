"""An accountant that records the history of a run and composes it on demand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dpkit._validate import check_integer, check_number
from dpkit.accounting._arguments import check_accountant
from dpkit.accounting.epsilon import epsilon_of_segments


@dataclass(frozen=True)
class Segment:
    """A run of identical Gaussian steps.

    Attributes
    ----------
    noise_multiplier : float
        Noise standard deviation divided by the L2 sensitivity (the clipping norm).
    sampling_rate : float
        Poisson sampling rate of each step; 1.0 for a one-off Gaussian mechanism.
    steps : int
        Number of steps (or mechanism releases) in the segment.
    kind : str
        "sgd" for DP-SGD lots, "gaussian" for one-off mechanisms such as DP-PCA.
    """

    noise_multiplier: float
    sampling_rate: float
    steps: int
    kind: str


class Accountant:
    """Record Gaussian steps as they happen and report the epsilon of the whole history.

    Consecutive records with the same kind, noise multiplier and sampling rate
    are merged into one :class:`Segment`, so calling :meth:`add_sgd` once per
    step costs one comparison. All accountants assume add/remove-one neighbours
    and, for "sgd" segments, Poisson sampling.

    Examples
    --------
    >>> acc = Accountant()
    >>> acc.add_gaussian(noise_multiplier=8.0)          # DP-PCA
    >>> acc.add_sgd(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000)
    >>> eps = acc.epsilon(delta=1e-5)
    """

    def __init__(self) -> None:
        self._segments: list[Segment] = []

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The recorded segments, oldest first."""
        return tuple(self._segments)

    @property
    def steps(self) -> int:
        """Total number of DP-SGD steps recorded (one-off mechanisms excluded)."""
        return sum(s.steps for s in self._segments if s.kind == "sgd")

    def add_sgd(self, *, noise_multiplier: float, sampling_rate: float, steps: int = 1) -> None:
        """Record ``steps`` DP-SGD steps, each a Poisson-sampled Gaussian mechanism.

        Parameters
        ----------
        noise_multiplier : float in (0, inf)
        sampling_rate : float in (0, 1]
        steps : int >= 0
            Zero records nothing.
        """
        sigma = check_noise_multiplier(noise_multiplier)
        q = check_number("sampling_rate", sampling_rate, low=0.0, high=1.0, low_inclusive=False)
        count = check_integer("steps", steps, low=0)
        self._append(Segment(sigma, q, count, "sgd"))

    def add_gaussian(self, *, noise_multiplier: float, count: int = 1) -> None:
        """Record ``count`` releases of a Gaussian mechanism on the full dataset.

        The mechanism has L2 sensitivity 1 and noise standard deviation
        ``noise_multiplier`` (scale both by the same norm bound), and it uses every
        example, so its sampling rate is 1. DP-PCA's noisy covariance is one release.
        """
        sigma = check_noise_multiplier(noise_multiplier)
        releases = check_integer("count", count, low=0)
        self._append(Segment(sigma, 1.0, releases, "gaussian"))

    def epsilon(self, *, delta: float, accountant: str = "rdp") -> float:
        """Return the epsilon of the whole recorded history at ``delta``; 0.0 when nothing is recorded."""
        delta = check_number("delta", delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        accountant = check_accountant(accountant)
        if not self._segments:
            return 0.0
        sigma = np.array([s.noise_multiplier for s in self._segments])
        q = np.array([s.sampling_rate for s in self._segments])
        steps = np.array([s.steps for s in self._segments], dtype=np.float64)
        return epsilon_of_segments(sigma, q, steps, delta=delta, accountant=accountant)

    def _append(self, segment: Segment) -> None:
        if segment.steps == 0:
            return
        if self._segments:
            last = self._segments[-1]
            same = (last.kind, last.noise_multiplier, last.sampling_rate) == (
                segment.kind,
                segment.noise_multiplier,
                segment.sampling_rate,
            )
            if same:
                self._segments[-1] = Segment(last.noise_multiplier, last.sampling_rate, last.steps + segment.steps, last.kind)
                return
        self._segments.append(segment)

    def __repr__(self) -> str:
        return f"Accountant(segments={self.segments!r})"


def check_noise_multiplier(value: object) -> float:
    """Return ``value`` as a float after checking it lies in (0, inf)."""
    return check_number("noise_multiplier", value, low=0.0, high=math.inf, low_inclusive=False, high_inclusive=False)
