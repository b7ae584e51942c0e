"""Privacy accounting for DP-SGD: how much (epsilon, delta) a run spends.

Five accountants answer the same question with different tightness:

- ``"moments"``: the moments accountant of Abadi et al. (2016), the paper's own.
- ``"rdp"``: Renyi DP at integer and fractional orders with the improved conversion.
- ``"pld"``: the privacy loss distribution composed by FFT, a numerical upper bound.
- ``"strong_composition"``: the paper's baseline, advanced composition of per-step guarantees.
- ``"naive_composition"``: basic composition, epsilons simply add up.

All of them assume Poisson sampling and add/remove-one neighbours.
"""

from dpkit.accounting._arguments import ACCOUNTANTS
from dpkit.accounting.accountant import Accountant, Segment
from dpkit.accounting.calibrate import epochs_for, noise_multiplier_for, steps_for
from dpkit.accounting.epsilon import epsilon
from dpkit.accounting.statement import privacy_statement

__all__ = [
    "ACCOUNTANTS",
    "Accountant",
    "Segment",
    "epochs_for",
    "epsilon",
    "noise_multiplier_for",
    "privacy_statement",
    "steps_for",
]
