"""Epoch time of the torch backend against the NumPy backend and against Opacus, on the CPU.

Three comparisons, each on the same model, the same Poisson lots and the same lot
size, with one physical batch per lot:

* torch backend / NumPy backend, on an MLP (784 inputs, one hidden layer, 10 classes);
* torch backend / Opacus, on the same MLP;
* torch backend / Opacus, on the tanh CNN of ``dpkit.torch_backend.build_cnn``.

An epoch is ``ceil(N / lot_size)`` DP-SGD steps (per-example gradients, clipping,
noise, update) with no evaluation. Each pair is timed ``--repeats`` times, the two
members alternating so that both see the same machine load. The script prints the
median of the per-repeat ratios, and a ratio below 1 means the torch backend is faster.

The inputs are uniform random numbers, because the time of a step does not depend
on the pixel values. Opacus is a benchmark-only dependency: without it the Opacus
rows are skipped with a message. Run with::

    python benchmarks/torch_backend.py            # a few minutes on 2 cores
    python benchmarks/torch_backend.py --quick    # one repeat, smaller data
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from dpkit.dpsgd import NumpyMLPBackend
from dpkit.sampling import poisson_lots
from dpkit.torch_backend import TorchBackend, build_cnn, build_mlp


def make_lots(num_examples: int, lot_size: int, seed: int) -> list[np.ndarray]:
    """Return one epoch of Poisson lots."""
    steps = math.ceil(num_examples / lot_size)
    return list(poisson_lots(num_examples, lot_size / num_examples, steps, rng=np.random.default_rng(seed)))


def time_dpkit_epoch(backend, x: np.ndarray, labels: np.ndarray, lots: list[np.ndarray]) -> float:
    """Return the seconds one epoch of ``backend.noisy_step`` takes (NumPy or torch backend)."""
    noise_rng = np.random.default_rng(0)
    start = time.perf_counter()
    for lot in lots:
        backend.noisy_step(x, labels, lot, learning_rate=0.1, noise_rng=noise_rng)
    return time.perf_counter() - start


def make_opacus_epoch(module: torch.nn.Module, *, lot_size: int, clip_norm: float, noise_multiplier: float):
    """Return a function that runs one Opacus DP-SGD epoch on given lots and returns its seconds.

    Opacus's per-sample gradients (``GradSampleModule``, hooks mode) and its
    ``DPOptimizer`` do the clipping, the noise and the division by the expected lot
    size, as in Opacus's own training loops.
    """
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    private_module = GradSampleModule(module, loss_reduction="sum")
    optimizer = DPOptimizer(
        torch.optim.SGD(private_module.parameters(), lr=0.1),
        noise_multiplier=noise_multiplier,
        max_grad_norm=clip_norm,
        expected_batch_size=lot_size,
        loss_reduction="sum",
    )

    def run_epoch(x: torch.Tensor, labels: torch.Tensor, lots: list[np.ndarray]) -> float:
        start = time.perf_counter()
        for lot in lots:
            index = torch.from_numpy(lot)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(private_module(x[index]), labels[index], reduction="sum")
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start

    return run_epoch


def median_ratio(first, second, repeats: int) -> tuple[float, float, float]:
    """Time ``first`` and ``second`` alternately; return median seconds of each and the median ratio first/second."""
    first(), second()  # warm-up: allocator, thread pools, vmap's first trace
    pairs = [(first(), second()) for _ in range(repeats)]
    ratios = [a / b for a, b in pairs]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs), statistics.median(ratios)


def report(name: str, first_name: str, second_name: str, result: tuple[float, float, float]) -> None:
    first_seconds, second_seconds, ratio = result
    print(
        f"{name:<26} {first_name} {first_seconds:7.2f} s   {second_name} {second_seconds:7.2f} s   "
        f"median ratio {ratio:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=6000, help="training examples per epoch (default: 6000)")
    parser.add_argument("--lot-size", type=int, default=256, help="expected lot size L (default: 256)")
    parser.add_argument("--hidden", type=int, default=256, help="hidden width of the MLP (default: 256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per backend and model (default: 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default: 1)")
    parser.add_argument("--quick", action="store_true", help="one repeat on 2,000 examples, to check the script runs")
    args = parser.parse_args()
    if args.quick:
        args.examples, args.repeats = 2000, 1

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    clip_norm, noise_multiplier = 1.0, 1.1
    # One physical batch per lot: a Poisson lot of expected size L rarely exceeds 2L.
    settings = dict(clip_norm=clip_norm, noise_multiplier=noise_multiplier, lot_size=args.lot_size, batch_size=2 * args.lot_size)

    data_rng = np.random.default_rng(0)
    x = data_rng.random((args.examples, 784))
    labels = data_rng.integers(0, 10, size=args.examples)
    lots = make_lots(args.examples, args.lot_size, seed=1)
    print(
        f"{args.examples} examples, lot size {args.lot_size}, {len(lots)} steps per epoch, {args.repeats} repeats, "
        f"{args.threads} thread(s), torch {torch.__version__}, float32 for torch unless stated"
    )

    layer_sizes = (784, args.hidden, 10)
    numpy_backend = NumpyMLPBackend(layer_sizes=layer_sizes, init_rng=np.random.default_rng(0), **settings)
    for dtype in (torch.float32, torch.float64):
        module = build_mlp(layer_sizes, rng=np.random.default_rng(0), dtype=dtype, device=torch.device("cpu"))
        torch_backend = TorchBackend(module, input_shape=(784,), **settings)
        result = median_ratio(
            lambda: time_dpkit_epoch(torch_backend, x, labels, lots),
            lambda: time_dpkit_epoch(numpy_backend, x, labels, lots),
            args.repeats,
        )
        report(f"MLP torch/NumPy ({str(dtype).split('.')[-1]})", "torch", "numpy", result)

    try:
        import opacus
    except ImportError:
        print("Opacus is not installed, so the Opacus comparisons are skipped: pip install opacus (benchmark only)")
        return
    print(f"Opacus {opacus.__version__}")
    warnings.filterwarnings("ignore", module="opacus")
    # Opacus's hooks trigger this torch warning because the inputs do not require gradients, which is intended here.
    warnings.filterwarnings("ignore", message="Full backward hook is firing")

    x_tensor, label_tensor = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(labels)
    models = {
        "MLP": (lambda: build_mlp(layer_sizes, rng=np.random.default_rng(0), dtype=torch.float32, device=torch.device("cpu")), (784,)),
        "CNN": (
            lambda: build_cnn((28, 28), 10, rng=np.random.default_rng(0), dtype=torch.float32, device=torch.device("cpu")),
            (1, 28, 28),
        ),
    }
    for name, (build, input_shape) in models.items():
        torch_backend = TorchBackend(build(), input_shape=input_shape, **settings)
        # The torch backend runs image models in channels-last layout on the CPU; Opacus gets the same layout.
        opacus_x = torch_backend.as_model_input(x_tensor)
        opacus_epoch = make_opacus_epoch(
            build().to(memory_format=torch_backend.memory_format),
            lot_size=args.lot_size,
            clip_norm=clip_norm,
            noise_multiplier=noise_multiplier,
        )
        result = median_ratio(
            lambda: time_dpkit_epoch(torch_backend, x, labels, lots),
            lambda: opacus_epoch(opacus_x, label_tensor, lots),
            args.repeats,
        )
        report(f"{name} torch/Opacus", "torch", "opacus", result)


if __name__ == "__main__":
    main()
