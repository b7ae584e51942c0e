"""Benchmark dpkit's accountants against Google's dp_accounting and time the privacy-curves panel.

Run: ``.venv/bin/python benchmarks/accounting.py``. dp_accounting is needed only
here (``pip install dp-accounting``); without it the comparisons are skipped
with a message and only the panel is timed. Every figure printed is a median
over repeats on the machine that runs the script; ratios above 1 mean dpkit is
faster.
"""

from __future__ import annotations

import io
import statistics
import time
import warnings

import numpy as np

from dpkit.accounting import epsilon

PAPER = dict(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000, delta=1e-5)


def median_seconds(function, repeats: int) -> float:
    """Return the median wall time of ``function()`` over ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def google_rdp_epsilon(dp_accounting, *, noise_multiplier, sampling_rate, steps, delta) -> float:
    accountant = dp_accounting.rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, steps)
    return accountant.get_epsilon(delta)


def google_pld_epsilon(dp_accounting, *, noise_multiplier, sampling_rate, steps, delta) -> float:
    accountant = dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-4)
    event = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, steps)
    return accountant.get_epsilon(delta)


def compare_with_dp_accounting() -> None:
    try:
        import dp_accounting
    except ImportError:
        print("SKIP comparisons: dp_accounting is not installed (pip install dp-accounting); timing the panel only")
        return
    from importlib.metadata import version

    print(f"dp_accounting {version('dp-accounting')}, numpy {np.__version__}")

    # 1. One rdp epsilon.
    ours = median_seconds(lambda: epsilon(**PAPER, accountant="rdp"), 30)
    theirs = median_seconds(lambda: google_rdp_epsilon(dp_accounting, **PAPER), 10)
    print(f"single rdp epsilon:  dpkit {ours * 1e3:.2f} ms, dp_accounting {theirs * 1e3:.2f} ms, "
          f"ratio {theirs / ours:.1f}x")

    # 2. A 100 x 100 grid of (noise multiplier, steps). dp_accounting is timed on
    # 100 points of the grid and scaled to 10,000, because the full grid takes minutes.
    sigmas = np.geomspace(0.5, 10.0, 100)
    step_grid = np.unique(np.geomspace(10, 100_000, 100).round())
    while step_grid.size < 100:
        step_grid = np.unique(np.append(step_grid, step_grid[-1] + 1))
    grid = lambda: epsilon(noise_multiplier=sigmas[:, None], sampling_rate=0.01, steps=step_grid[None, :],
                           delta=1e-5, accountant="rdp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours_grid = median_seconds(grid, 3)
    rng = np.random.default_rng(0)
    sample = [(sigmas[i], int(step_grid[j])) for i, j in zip(rng.integers(0, 100, 100), rng.integers(0, 100, 100))]
    start = time.perf_counter()
    for s, t in sample:
        google_rdp_epsilon(dp_accounting, noise_multiplier=s, sampling_rate=0.01, steps=t, delta=1e-5)
    theirs_grid = (time.perf_counter() - start) / len(sample) * sigmas.size * step_grid.size
    print(f"100x100 rdp grid:    dpkit {ours_grid:.3f} s, dp_accounting per point {theirs_grid:.1f} s "
          f"(extrapolated from 100 points), ratio {theirs_grid / ours_grid:.0f}x")

    # 3. PLD at the reference accuracy (grid 1e-4) on three settings of the reference table.
    ratios = []
    for setting in (PAPER, dict(noise_multiplier=1.1, sampling_rate=0.0042666667, steps=14_040, delta=1e-5),
                    dict(noise_multiplier=1.5, sampling_rate=0.04, steps=2250, delta=1e-5)):
        ours_pld = median_seconds(lambda: epsilon(**setting, accountant="pld"), 5)
        theirs_pld = median_seconds(lambda: google_pld_epsilon(dp_accounting, **setting), 3)
        ours_value = epsilon(**setting, accountant="pld")
        theirs_value = google_pld_epsilon(dp_accounting, **setting)
        ratios.append(theirs_pld / ours_pld)
        print(f"pld sigma={setting['noise_multiplier']:g} q={setting['sampling_rate']:.3g} T={setting['steps']}: "
              f"dpkit {ours_pld * 1e3:.1f} ms (eps {ours_value:.5f}), dp_accounting {theirs_pld * 1e3:.1f} ms "
              f"(eps {theirs_value:.5f}), ratio {theirs_pld / ours_pld:.1f}x")
    print(f"pld median ratio {statistics.median(ratios):.1f}x")


def time_panel_redraw() -> None:
    """Time one slider move of the privacy-curves panel, including rendering the figure to PNG as Jupyter does."""
    from dpkit.widgets_privacy import PrivacyCurvesPanel

    panel = PrivacyCurvesPanel()
    values = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]
    times = []
    for value in values:
        start = time.perf_counter()
        panel.noise_multiplier.value = value  # runs panel.update()
        panel.figure.savefig(io.BytesIO(), format="png")
        times.append(time.perf_counter() - start)
    compute = median_seconds(panel.update, 5)
    print(f"panel slider redraw: median {statistics.median(times) * 1e3:.0f} ms (max {max(times) * 1e3:.0f} ms) "
          f"over {len(values)} noise multipliers, of which computing the curves {compute * 1e3:.0f} ms")


def time_long_runs_and_epoch_queries() -> None:
    """Time 10^7 steps under each accountant, and the per-epoch query that training makes."""
    import warnings

    from dpkit.accounting import ACCOUNTANTS, Accountant, epsilon

    for accountant in ACCOUNTANTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # order-edge advice is expected at 10^7 steps
            seconds = median_seconds(
                lambda: epsilon(noise_multiplier=1.0, sampling_rate=0.01, steps=10**7, delta=1e-5, accountant=accountant), 3
            )
        print(f"10^7 steps, {accountant}: median {seconds:.3f} s (target < 1 s)")

    record = Accountant()
    record.add_gaussian(noise_multiplier=8.0)
    for sigma in (1.0, 1.2, 1.5):
        record.add_sgd(noise_multiplier=sigma, sampling_rate=64 / 1437, steps=700)
    for accountant in ("rdp", "moments"):
        seconds = median_seconds(lambda: record.epsilon(delta=1e-5, accountant=accountant), 20)
        print(f"epoch query on 4 segments, {accountant}: median {seconds * 1e3:.2f} ms (target < 10 ms)")


if __name__ == "__main__":
    compare_with_dp_accounting()
    time_long_runs_and_epoch_queries()
    time_panel_redraw()
