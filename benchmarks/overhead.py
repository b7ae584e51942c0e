"""Cost of privacy in time and memory: a DP-SGD epoch against a non-private epoch of the same model.

Setting: Fashion-MNIST projected to 60 dimensions, one hidden layer of 1000 ReLU
units, lot size 600 (the setting of Abadi et al. 2016 for MNIST). Both epochs walk
the same Poisson lots with the same NumPy MLP; the private one clips per example
(the fast norm path unless --clip-method plain) and adds noise once per lot. Epochs
alternate between the two so that machine load hits both alike.

Prints the median seconds per epoch of each, their ratio, and the peak resident
memory of the process (which includes the loaded dataset).

    python benchmarks/overhead.py [--epochs 5] [--clip-method fast|plain]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

from dpkit.data import load
from dpkit.dpsgd import NumpyMLPBackend, sgd_update
from dpkit.model import init_mlp, mean_loss_and_gradient
from dpkit.pca import fit_pca
from dpkit.sampling import poisson_lots, steps_per_epoch


def non_private_epoch(params, x, labels, lots, learning_rate):
    for lot in lots:
        if len(lot) == 0:
            continue
        _, gradient = mean_loss_and_gradient(params, x[lot], labels[lot])
        params, _ = sgd_update(params, gradient, learning_rate=learning_rate)
    return params


def private_epoch(backend, x, labels, lots, learning_rate, noise_rng):
    for lot in lots:
        backend.noisy_step(x, labels, lot, learning_rate=learning_rate, noise_rng=noise_rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each kind (default: 5)")
    parser.add_argument("--clip-method", default="fast", choices=("fast", "plain"))
    args = parser.parse_args()

    data = load("fashion-mnist")
    # The projection's privacy does not matter for timing, so plain PCA is used.
    x = fit_pca(data.x_train, n_components=60).transform(data.x_train)
    labels = data.y_train
    lot_size = 600
    sampling_rate = lot_size / len(x)
    steps = steps_per_epoch(len(x), lot_size)
    # The private run processes each lot as one physical batch, as the non-private one does.
    backend = NumpyMLPBackend(
        layer_sizes=(60, 1000, 10), clip_norm=4.0, noise_multiplier=4.0, lot_size=lot_size,
        batch_size=lot_size * 2, clip_method=args.clip_method, init_rng=np.random.default_rng(0),
    )
    params = init_mlp((60, 1000, 10), rng=np.random.default_rng(0))
    sampling_rng, noise_rng = np.random.default_rng(1), np.random.default_rng(2)

    private_times, baseline_times = [], []
    for _ in range(args.epochs):
        lots = list(poisson_lots(len(x), sampling_rate, steps, rng=sampling_rng))

        start = time.perf_counter()
        params = non_private_epoch(params, x, labels, lots, 0.1)
        baseline_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        private_epoch(backend, x, labels, lots, 0.1, noise_rng)
        private_times.append(time.perf_counter() - start)

    private, baseline = statistics.median(private_times), statistics.median(baseline_times)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    print(f"setting: fashion-mnist, PCA 60, hidden 1000, lot_size {lot_size}, {steps} steps per epoch, clip method {args.clip_method}")
    print(f"non-private epoch: median {baseline:.3f} s over {args.epochs}")
    print(f"DP-SGD epoch:      median {private:.3f} s over {args.epochs}")
    print(f"ratio DP-SGD / non-private: {private / baseline:.2f} (target <= 1.5)")
    print(f"peak resident memory: {peak_mib:.0f} MiB (target < 1536 MiB)")


if __name__ == "__main__":
    main()
