"""Notebook 05 runs headless in quick mode, and its numbers agree with the accountants and the store."""

import json
import warnings

import pytest

from dpkit.accounting import Accountant

from notebook_runner import execute_notebook, image_count, text_output

pytest.importorskip("nbclient")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, monkeypatch_module):
    store = tmp_path_factory.mktemp("notebook05") / "store.sqlite"
    monkeypatch_module.setenv("DPKIT_PAPER_QUICK", "1")
    monkeypatch_module.setenv("DPKIT_PAPER_STORE", str(store))
    notebook = execute_notebook("05_reproduce_abadi2016.ipynb", timeout=240)
    text = text_output(notebook)
    (line,) = [line for line in text.splitlines() if line.startswith("SUMMARY ")]
    return notebook, json.loads(line.removeprefix("SUMMARY "))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def composed_epsilon(settings, *, steps, num_examples, accountant):
    record = Accountant()
    record.add_gaussian(noise_multiplier=settings["pca_noise_multiplier"])
    record.add_sgd(noise_multiplier=settings["noise_multiplier"], sampling_rate=settings["lot_size"] / num_examples, steps=steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return record.epsilon(delta=settings["delta"], accountant=accountant)


def test_notebook_draws_its_figures(quick_run):
    notebook, _ = quick_run
    assert image_count(notebook) >= 3  # epochs/epsilon curves, accountant comparison, studies


def test_abadi_levels_use_paper_noise(quick_run):
    _, summary = quick_run
    runs = summary["abadi2016"]
    noise = {level: (run["settings"]["noise_multiplier"], run["settings"]["pca_noise_multiplier"]) for level, run in runs.items()}
    assert noise == {"small": (2.0, 4.0), "medium": (4.0, 7.0), "large": (8.0, 16.0)}


def test_abadi_epsilons_match_accountant(quick_run):
    """Each run's reported epsilon is the moments accountant's bound for its PCA release plus its steps."""
    _, summary = quick_run
    for run in summary["abadi2016"].values():
        expected = composed_epsilon(run["settings"], steps=run["steps"], num_examples=summary["num_examples"], accountant="moments")
        assert run["epsilon"] == pytest.approx(expected, rel=1e-9)
        assert run["all_accountants"]["moments"] == pytest.approx(expected, rel=1e-9)


def test_accountants_ordered_for_each_run(quick_run):
    """For the same run: pld <= rdp <= moments <= strong composition (up to pld's discretisation)."""
    _, summary = quick_run
    for run in summary["abadi2016"].values():
        values = run["all_accountants"]
        assert values["pld"] <= values["rdp"] * 1.02
        assert values["rdp"] <= values["moments"]
        assert values["moments"] <= values["strong_composition"]


def test_noise_levels_order_accuracy(quick_run):
    """More noise gives lower accuracy after the same short training: large < small."""
    _, summary = quick_run
    runs = summary["abadi2016"]
    assert runs["large"]["test_accuracy"] < runs["medium"]["test_accuracy"]
    assert runs["large"]["test_accuracy"] < runs["small"]["test_accuracy"]
    assert runs["small"]["test_accuracy"] > 0.5  # ten classes: chance is 0.1


def test_modern_meets_every_target(quick_run):
    _, summary = quick_run
    assert set(summary["modern"]) == {"1.0", "2.0", "3.0", "8.0"}
    for target, run in summary["modern"].items():
        assert run["epsilon"] <= float(target)
        assert run["epsilon"] >= 0.97 * float(target)  # the noise is calibrated, not just safe
    noise = [summary["modern"][target]["settings"]["noise_multiplier"] for target in ("1.0", "2.0", "3.0", "8.0")]
    assert noise == sorted(noise, reverse=True)


def test_reopening_reads_store(quick_run):
    _, summary = quick_run
    assert summary["reopened_matches"] is True


def test_shipped_results_reopen_without_training(tmp_path, monkeypatch, fashion_mnist):
    """The results committed beside the notebook give the full Fashion-MNIST runs, read from the store.

    The notebook checks that Fashion-MNIST is present before it reads them, hence the fixture.
    """
    import shutil

    from notebook_runner import NOTEBOOKS

    store = tmp_path / "store.sqlite"
    shutil.copyfile(NOTEBOOKS / "results" / "abadi2016_fashion_mnist.sqlite", store)
    monkeypatch.delenv("DPKIT_PAPER_QUICK", raising=False)
    monkeypatch.setenv("DPKIT_PAPER_STORE", str(store))
    text = text_output(execute_notebook("05_reproduce_abadi2016.ipynb", timeout=240))
    (line,) = [line for line in text.splitlines() if line.startswith("SUMMARY ")]
    summary = json.loads(line.removeprefix("SUMMARY "))

    runs = summary["abadi2016"]
    assert summary["num_examples"] == 60000
    assert runs["large"]["test_accuracy"] < runs["medium"]["test_accuracy"] < runs["small"]["test_accuracy"]
    for level, target in (("small", 8.0), ("medium", 2.0), ("large", 0.5)):
        assert runs[level]["epsilon"] <= target
        expected = composed_epsilon(runs[level]["settings"], steps=runs[level]["steps"], num_examples=60000, accountant="moments")
        assert runs[level]["epsilon"] == pytest.approx(expected, rel=1e-9)
