"""The ``dpkit epsilon`` and ``dpkit calibrate`` subcommands.

``add_commands`` registers both on an ``argparse`` subparsers object; each
subparser stores its handler in ``func``, which returns the exit status. Bad
values raise ``ValueError``, which the ``dpkit`` entry point turns into a
one-line error.
"""

from __future__ import annotations

import argparse
import json
import math

from dpkit.accounting._arguments import ACCOUNTANTS
from dpkit.accounting.calibrate import epochs_for, noise_multiplier_for, steps_for
from dpkit.accounting.epsilon import epsilon

_ACCOUNTANT_CHOICES = (*ACCOUNTANTS, "all")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``epsilon`` and ``calibrate`` subcommands to ``subparsers``."""
    _add_epsilon_command(subparsers)
    _add_calibrate_command(subparsers)


def _add_epsilon_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "epsilon",
        help="print the epsilon spent by DP-SGD",
        description="Print the (epsilon, delta) guarantee of DP-SGD with Poisson sampling, "
        "for add/remove-one neighbours.",
    )
    parser.add_argument("--noise-multiplier", type=float, required=True, help="noise std / clipping norm (sigma)")
    parser.add_argument("--sampling-rate", type=float, required=True, help="lot size / dataset size (q)")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="number of lots (noisy updates)")
    length.add_argument("--epochs", type=float, help="epochs; steps = ceil(epochs / sampling rate)")
    parser.add_argument("--delta", type=float, required=True, help="target delta, in (0, 1)")
    parser.add_argument("--accountant", choices=_ACCOUNTANT_CHOICES, default="rdp", help="accountant (default: rdp)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run_epsilon)


def _add_calibrate_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="find the noise multiplier, or the maximum steps, for a target epsilon",
        description="With --steps or --epochs, print the smallest noise multiplier that meets "
        "--target-epsilon; with --noise-multiplier, print the largest number of steps and epochs.",
    )
    parser.add_argument("--target-epsilon", type=float, required=True, help="privacy budget epsilon, > 0")
    parser.add_argument("--sampling-rate", type=float, required=True, help="lot size / dataset size (q)")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--steps", type=int, help="number of lots; the noise multiplier is computed")
    given.add_argument("--epochs", type=float, help="epochs; the noise multiplier is computed")
    given.add_argument("--noise-multiplier", type=float, help="noise multiplier; the maximum steps are computed")
    parser.add_argument("--delta", type=float, required=True, help="target delta, in (0, 1)")
    parser.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp", help="accountant (default: rdp)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_calibrate)


def steps_from_epochs(epochs: float, sampling_rate: float) -> int:
    """Return ``ceil(epochs / sampling_rate)``, the number of lots in ``epochs`` epochs."""
    if not (math.isfinite(epochs) and epochs >= 0):
        raise ValueError(f"epochs must be a number in [0, inf); got {epochs!r}")
    if not (math.isfinite(sampling_rate) and 0 < sampling_rate <= 1):
        raise ValueError(f"sampling_rate must be in (0, 1]; got {sampling_rate!r}")
    return math.ceil(epochs / sampling_rate)


def run_epsilon(args: argparse.Namespace) -> int:
    """Print epsilon for one accountant, or a table of all of them."""
    steps = args.steps if args.epochs is None else steps_from_epochs(args.epochs, args.sampling_rate)
    names = ACCOUNTANTS if args.accountant == "all" else (args.accountant,)
    results = {
        name: epsilon(
            noise_multiplier=args.noise_multiplier,
            sampling_rate=args.sampling_rate,
            steps=steps,
            delta=args.delta,
            accountant=name,
        )
        for name in names
    }
    inputs = {
        "noise_multiplier": args.noise_multiplier,
        "sampling_rate": args.sampling_rate,
        "steps": steps,
        "delta": args.delta,
    }
    if args.json:
        print(json.dumps({**inputs, "epsilon": results}))
        return 0

    print(
        f"noise_multiplier={args.noise_multiplier:g} sampling_rate={args.sampling_rate:g} "
        f"steps={steps} delta={args.delta:g} (Poisson sampling, add/remove-one neighbours)"
    )
    width = max(len(name) for name in names)
    print(f"{'accountant':<{width}}  epsilon")
    for name, value in results.items():
        print(f"{name:<{width}}  {value:.6g}")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Print the noise multiplier for a step budget, or the step budget for a noise multiplier."""
    common = {"target_epsilon": args.target_epsilon, "sampling_rate": args.sampling_rate, "delta": args.delta}
    if args.noise_multiplier is None:
        steps = args.steps if args.epochs is None else steps_from_epochs(args.epochs, args.sampling_rate)
        sigma = noise_multiplier_for(**common, steps=steps, accountant=args.accountant)
        achieved = epsilon(
            noise_multiplier=sigma, sampling_rate=args.sampling_rate, steps=steps, delta=args.delta,
            accountant=args.accountant,
        )
        result = {**common, "steps": steps, "accountant": args.accountant, "noise_multiplier": sigma, "epsilon": achieved}
        text = f"noise_multiplier {sigma:.6g} (epsilon {achieved:.6g} after {steps} steps, {args.accountant})"
    else:
        steps = steps_for(**common, noise_multiplier=args.noise_multiplier, accountant=args.accountant)
        epochs = epochs_for(**common, noise_multiplier=args.noise_multiplier, accountant=args.accountant)
        result = {
            **common, "noise_multiplier": args.noise_multiplier, "accountant": args.accountant,
            "steps": steps, "epochs": epochs,
        }
        text = f"max steps {steps} (epochs {epochs:.6g}) within epsilon {args.target_epsilon:g} ({args.accountant})"

    print(json.dumps(result) if args.json else text)
    return 0
