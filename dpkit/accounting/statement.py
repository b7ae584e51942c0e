"""One plain sentence that states what a run's privacy guarantee means."""

from __future__ import annotations

from dpkit._validate import check_choice, check_number
from dpkit.accounting._arguments import check_accountant
from dpkit.accounting.accountant import Accountant

_ACCOUNTANT_NAMES = {
    "moments": "the moments accountant of Abadi et al. (2016)",
    "rdp": "Renyi DP accounting (Mironov et al. 2019) with the conversion of Canonne, Kamath and Steinke (2020)",
    "pld": "the privacy loss distribution accountant (an FFT-composed numerical upper bound)",
    "strong_composition": "the advanced composition theorem (the baseline of Abadi et al. 2016)",
    "naive_composition": "basic composition (epsilons add up)",
}

SAMPLERS: tuple[str, ...] = ("poisson", "shuffle")


def privacy_statement(
    accountant_record: Accountant, *, delta: float, accountant: str = "rdp", sampler: str = "poisson"
) -> str:
    """Return one sentence stating the (epsilon, delta) guarantee of a recorded run.

    The sentence names the guarantee, the neighbouring relation (add/remove one
    example), the sampling assumption and the accountant. With
    ``sampler="shuffle"`` the sentence states that the Poisson analysis does not hold for
    shuffled fixed-size lots, so the number is only indicative.
    """
    delta = check_number("delta", delta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    accountant = check_accountant(accountant)
    sampler = check_choice("sampler", sampler, SAMPLERS)
    eps = accountant_record.epsilon(delta=delta, accountant=accountant)

    sgd_steps = accountant_record.steps
    others = sum(s.steps for s in accountant_record.segments if s.kind != "sgd")
    run = f"{sgd_steps} DP-SGD steps"
    if others:
        run += f" and {others} other Gaussian release{'s' if others != 1 else ''}"

    if sampler == "poisson":
        assumption = "assuming each lot was drawn by Poisson sampling"
    else:
        assumption = (
            "but the lots were shuffled fixed-size batches, for which this Poisson-sampling "
            "analysis does not hold, so the number is only indicative"
        )
    return (
        f"This run ({run}) satisfies ({eps:.3g}, {delta:.3g})-differential privacy for datasets "
        f"differing by adding or removing one example, computed with {_ACCOUNTANT_NAMES[accountant]}, "
        f"{assumption}."
    )
