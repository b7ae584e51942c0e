"""The `dpkit` command line: `dpkit train`, `dpkit demo`, `dpkit sweep`, `dpkit epsilon`, `dpkit calibrate`.

A ValueError from the library (an argument out of range, an unknown dataset) becomes
one line on stderr and exit status 2, like argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import NoReturn

from dpkit.accounting import ACCOUNTANTS
from dpkit.data import DATASETS


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="digits", help=f"one of {', '.join(DATASETS)}, or mnist-sample for dpkit train (default: digits)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="SGD step size (default: 0.1)")
    parser.add_argument(
        "--final-learning-rate",
        type=float,
        default=None,
        help="decay the learning rate linearly to this value over --decay-epochs epochs, then keep it",
    )
    parser.add_argument("--decay-epochs", type=float, default=None, help="epochs of linear learning-rate decay")
    parser.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum in [0, 1) (default: 0)")
    parser.add_argument(
        "--hidden",
        type=_int_list,
        default=(1000,),
        help="hidden layer widths, comma-separated, each at least 1; 0 alone for no hidden layer (default: 1000)",
    )
    parser.add_argument("--pca", type=int, default=None, help="project the inputs to this many dimensions first")
    parser.add_argument(
        "--pca-noise-multiplier",
        type=float,
        default=16.0,
        help="noise std on each covariance entry of DP-PCA; its sensitivity is 1 (default: 16)",
    )
    parser.add_argument(
        "--public-pca",
        action="store_true",
        help="fit PCA without noise, declaring the training data public for that step (its cost is then not counted)",
    )
    parser.add_argument("--delta", type=float, default=1e-5, help="delta of the (epsilon, delta) guarantee (default: 1e-5)")
    parser.add_argument("--accountant", default="rdp", choices=ACCOUNTANTS, help="how epsilon is computed (default: rdp)")
    parser.add_argument(
        "--sampler", default="poisson", choices=("poisson", "shuffle"), help="lot sampling; only poisson is covered by the accountant"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="physical batch size in memory (default: 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch"), help="numpy (default) or torch")
    parser.add_argument("--device", default="cpu", help="torch device, such as cpu or cuda (torch backend only)")
    parser.add_argument("--model", default="mlp", choices=("mlp", "cnn"), help="mlp (default) or cnn (torch backend only)")
    parser.add_argument(
        "--secure-noise",
        action="store_true",
        help="draw the noise from the operating system's cryptographically secure generator (torch backend only; "
        "slower, and not reproducible from --seed)",
    )


def _int_list(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    return tuple(width for width in widths if width != 0)


def _training_settings(args: argparse.Namespace) -> dict:
    return {
        "learning_rate": args.learning_rate,
        "final_learning_rate": args.final_learning_rate,
        "decay_epochs": args.decay_epochs,
        "momentum": args.momentum,
        "hidden": args.hidden,
        "pca": args.pca,
        "pca_noise_multiplier": args.pca_noise_multiplier,
        "pca_public": args.public_pca,
        "delta": args.delta,
        "accountant": args.accountant,
        "sampler": args.sampler,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "backend": args.backend,
        "device": args.device,
        "model": args.model,
        "secure_noise": args.secure_noise,
    }


def _explicit_settings(args: argparse.Namespace) -> dict:
    """Return the training settings the user typed after ``train``, under their TrainConfig names.

    A named configuration supplies the defaults, so only flags given explicitly
    may override it, even one given with the same value as argparse's default.
    """
    probe = argparse.ArgumentParser(add_help=False)
    _add_train_arguments(probe)

    # argparse fills in a default only where the namespace lacks the name, so a
    # flag whose value is still the marker was not typed.
    not_typed = object()
    every_flag = vars(probe.parse_args([]))
    namespace = argparse.Namespace(**{name: not_typed for name in every_flag})
    parsed = vars(probe.parse_args(args.train_argv, namespace=namespace))
    renamed = {"public_pca": "pca_public"}
    not_settings = {"dataset", "json", "config", "noise", "target_epsilon"}
    return {
        renamed.get(name, name): value
        for name, value in parsed.items()
        if value is not not_typed and name not in not_settings
    }


def _run_train(args: argparse.Namespace) -> int:
    from dpkit.paper import resolve_dataset
    from dpkit.training import train

    dataset = resolve_dataset(args.dataset)
    if args.config is None:
        if args.target_epsilon is not None:
            raise ValueError("--target-epsilon needs --config")
        settings = {
            "noise_multiplier": args.noise_multiplier,
            "clip_norm": args.clip_norm,
            "lot_size": args.lot_size,
            "epochs": args.epochs,
            **_training_settings(args),
        }
        result = train(dataset=dataset, verbose=True, **settings)
    else:
        result = train(
            dataset=dataset,
            verbose=True,
            config=args.config,
            noise=args.noise,
            target_epsilon=args.target_epsilon,
            **_explicit_settings(args),
        )
    print(
        f"test_accuracy {result.test_accuracy:.4f}  epsilon {result.epsilon:.4f}  delta {result.delta:g}  "
        f"accountant {result.accountant}  steps {result.steps}"
    )
    print(result.privacy_statement)
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from dpkit.demo import run_demo

    run_demo(output=Path(args.output))
    return 0


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from dpkit.configs import CONFIGS, NOISE_LEVELS

    parser.add_argument("--noise-multiplier", type=float, default=1.1, help="noise std divided by clip norm, σ (default: 1.1)")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="bound C on each example's gradient L2 norm (default: 1)")
    parser.add_argument("--lot-size", type=int, default=64, help="expected examples per noisy update, L (default: 64)")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the data; steps = epochs * ceil(N / L) (default: 10)")
    _add_training_flags(parser)
    parser.add_argument(
        "--config",
        choices=tuple(CONFIGS),
        default=None,
        help="start from a named configuration (abadi2016: the paper's MNIST protocol; modern); "
        "flags given explicitly override its values",
    )
    parser.add_argument(
        "--noise",
        choices=NOISE_LEVELS,
        default="medium",
        help="noise level of --config (abadi2016: sigma 2/4/8 for epsilon 8/2/0.5; modern: epsilon 8/3/1) (default: medium)",
    )
    parser.add_argument(
        "--target-epsilon", type=float, default=None, help="epsilon budget of the run, replacing the one of --config's level"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")


class _OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every subcommand."""
    from dpkit import __version__

    parser = _OneLineErrorParser(prog="dpkit", description="Differentially private SGD, accounting and sweeps.")
    parser.add_argument("--version", action="version", version=f"dpkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)

    train_parser = subparsers.add_parser("train", help="train one model with DP-SGD and report accuracy and epsilon")
    _add_train_arguments(train_parser)
    train_parser.set_defaults(func=_run_train)

    demo_parser = subparsers.add_parser("demo", help="a small sweep on digits: accuracy against epsilon, table and PNG")
    demo_parser.add_argument("--output", default="out/demo", help="folder for the PNG and the table (default: out/demo)")
    demo_parser.set_defaults(func=_run_demo)

    from dpkit.accounting.cli import add_commands
    from dpkit.sweep.cli import add_commands as add_sweep_commands

    add_commands(subparsers)
    add_sweep_commands(subparsers, add_training_flags=_add_training_flags, training_settings=_training_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command == "train":
        # Kept so that a named configuration can tell which flags were typed.
        args.train_argv = argv[argv.index("train") + 1 :]
    warnings.simplefilter("default")
    # Warnings are advice for the user, so they get one line each without the source line.
    warnings.formatwarning = lambda message, category, *rest, **options: f"dpkit: warning: {message}\n"
    try:
        return int(args.func(args) or 0)
    except ValueError as error:
        print(f"dpkit: error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"dpkit: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        # An optional dependency, such as torch for --backend torch, is missing.
        print(f"dpkit: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dpkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
