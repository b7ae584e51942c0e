"""Time and memory of one epoch of the `abadi2016` configuration: NumPy, torch on CPU, and Opacus (two modes).

Setting: Fashion-MNIST projected by DP-PCA to 60 dimensions (PCA noise 7, the
medium level), one hidden layer of 1000 ReLU units, lots of 600 drawn by
Poisson sampling, clipping norm 4, noise multiplier 4, the paper's learning
rate schedule. Every backend trains the same model on the same projected
features; only the DP-SGD steps are timed (no evaluation). Each backend runs in
its own child process, so its peak resident memory (``ru_maxrss``, which
includes the loaded dataset, about 0.4 GB of float64 pixels) is its own.

Prints the median seconds per epoch and the peak memory of each backend, and
the median-epoch ratios against Opacus. Opacus and torch are optional: a
missing one is skipped with a message. Opacus is a benchmark-only dependency
(``pip install opacus --no-deps`` keeps the installed torch).

    python benchmarks/paper.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("numpy", "torch", "opacus", "opacus-ghost")


def projected_data(seed: int = 0):
    """Fashion-MNIST training set projected by the medium level's DP-PCA; the same for every backend."""
    from dpkit.data import load
    from dpkit.pca import fit_dp_pca

    data = load("fashion-mnist")
    projection = fit_dp_pca(data.x_train, n_components=60, noise_multiplier=7.0, rng=np.random.default_rng(seed))
    return projection.transform(data.x_train), data.y_train


def abadi_settings(num_examples: int, epochs: int) -> dict:
    from dpkit.configs import config_settings

    return config_settings("abadi2016", num_examples=num_examples, noise="medium", overrides={"epochs": epochs})


def time_dpkit(backend_name: str, epochs: int) -> list[float]:
    """Seconds per epoch of dpkit's ``backend_name`` backend on the abadi2016 setting."""
    from dpkit.dpsgd import NumpyMLPBackend, learning_rate_at
    from dpkit.sampling import poisson_lots, steps_per_epoch
    from dpkit.training import TrainConfig

    x, y = projected_data()
    settings = abadi_settings(len(x), epochs)
    config = TrainConfig(dataset="fashion-mnist", **settings)
    init_rng, sampling_rng, noise_rng = (np.random.default_rng(seed) for seed in (1, 2, 3))
    if backend_name == "numpy":
        backend = NumpyMLPBackend(
            layer_sizes=(x.shape[1], *config.hidden, 10), clip_norm=config.clip_norm,
            noise_multiplier=config.noise_multiplier, lot_size=config.lot_size, batch_size=config.batch_size,
            init_rng=init_rng,
        )
    else:
        from dpkit.torch_backend import make_torch_backend

        config.backend = "torch"
        backend = make_torch_backend(config, num_features=x.shape[1], num_classes=10, init_rng=init_rng, image_shape=(1, 60))

    lots_per_epoch = steps_per_epoch(len(x), config.lot_size)
    lots = list(poisson_lots(len(x), config.lot_size / len(x), epochs * lots_per_epoch, rng=sampling_rng))
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for step in range(epoch * lots_per_epoch, (epoch + 1) * lots_per_epoch):
            rate = learning_rate_at(step / lots_per_epoch, learning_rate=config.learning_rate,
                                    final_learning_rate=config.final_learning_rate, decay_epochs=config.decay_epochs)
            backend.noisy_step(x, y, lots[step], learning_rate=rate, noise_rng=noise_rng)
        seconds.append(time.perf_counter() - start)
    return seconds


def time_opacus(epochs: int, *, ghost: bool = False) -> list[float]:
    """Seconds per epoch of Opacus (Poisson sampling, flat clipping) on the same model and lots of the same size.

    ``ghost=True`` uses Opacus's ghost clipping (``grad_sample_mode="ghost"``),
    which computes per-example gradient norms without materialising the
    per-example gradients, as dpkit's fast clipping path does.
    """
    import torch
    from opacus import PrivacyEngine
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from dpkit.dpsgd import learning_rate_at

    x, y = projected_data()
    settings = abadi_settings(len(x), epochs)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(x.shape[1], 1000), nn.ReLU(), nn.Linear(1000, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["learning_rate"])
    loader = DataLoader(TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y)), batch_size=settings["lot_size"])
    loss_function = nn.CrossEntropyLoss()
    privacy = {"noise_multiplier": settings["noise_multiplier"], "max_grad_norm": settings["clip_norm"], "poisson_sampling": True}
    if ghost:
        model, optimizer, loss_function, loader = PrivacyEngine(accountant="rdp").make_private(
            module=model, optimizer=optimizer, data_loader=loader, criterion=loss_function, grad_sample_mode="ghost", **privacy
        )
    else:
        model, optimizer, loader = PrivacyEngine(accountant="rdp").make_private(
            module=model, optimizer=optimizer, data_loader=loader, **privacy
        )
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for step, (features, labels) in enumerate(loader):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(epoch + step / len(loader), learning_rate=settings["learning_rate"],
                                               final_learning_rate=settings["final_learning_rate"],
                                               decay_epochs=settings["decay_epochs"])
            optimizer.zero_grad()
            loss_function(model(features), labels).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def run_worker(backend_name: str, epochs: int) -> None:
    """Time one backend in this process and print its figures as one JSON line."""
    if backend_name.startswith("opacus"):
        seconds = time_opacus(epochs, ghost=backend_name == "opacus-ghost")
    else:
        seconds = time_dpkit(backend_name, epochs)
    peak_megabytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    print(json.dumps({"backend": backend_name, "epoch_seconds": seconds, "peak_megabytes": peak_megabytes}))


def missing_dependency(backend_name: str) -> str | None:
    """Return why ``backend_name`` cannot run here, or None when it can."""
    needed = {"numpy": [], "torch": ["torch"], "opacus": ["torch", "opacus"], "opacus-ghost": ["torch", "opacus"]}[backend_name]
    for module in needed:
        try:
            __import__(module)
        except ImportError as error:
            return f"{module} is not installed ({error})"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per backend (default: 3)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.epochs)
        return

    results = {}
    for backend_name in BACKENDS:
        reason = missing_dependency(backend_name)
        if reason:
            print(f"{backend_name:12s} skipped: {reason}")
            continue
        completed = subprocess.run(
            [sys.executable, __file__, "--worker", backend_name, "--epochs", str(args.epochs)],
            capture_output=True, text=True, check=True,
        )
        results[backend_name] = json.loads(completed.stdout.strip().splitlines()[-1])

    print(f"abadi2016 (medium noise), Fashion-MNIST, {args.epochs} timed epochs per backend")
    print(f"{'backend':12s} {'median s/epoch':>15s} {'peak MB':>9s}  all epochs (s)")
    for name, result in results.items():
        median = statistics.median(result["epoch_seconds"])
        epochs_text = ", ".join(f"{value:.2f}" for value in result["epoch_seconds"])
        print(f"{name:12s} {median:15.2f} {result['peak_megabytes']:9.0f}  {epochs_text}")
    if "opacus" in results:
        for reference_name in ("opacus", "opacus-ghost"):
            reference = statistics.median(results[reference_name]["epoch_seconds"])
            for name in ("numpy", "torch"):
                if name in results:
                    ratio = statistics.median(results[name]["epoch_seconds"]) / reference
                    print(f"median epoch ratio {name} / {reference_name}: {ratio:.2f}")
    else:
        print("no ratio against Opacus: it is not installed (pip install opacus --no-deps)")


if __name__ == "__main__":
    main()
