"""Named configurations and budget fitting: the paper's protocol, maximal epochs, calibrated noise, overrides."""

import json
import subprocess
import sys
import warnings

import pytest

from dpkit.accounting import Accountant, noise_multiplier_for
from dpkit.budget import epochs_within_budget, noise_multiplier_within_budget
from dpkit.configs import CONFIGS, config_settings
from dpkit.data import load

N = 60_000


def total_epsilon(*, sigma, lot, epochs, pca_sigma, accountant, num_examples=N, delta=1e-5):
    """Epsilon of a DP-PCA release plus ``epochs`` epochs of DP-SGD, composed by the Accountant."""
    record = Accountant()
    if pca_sigma is not None:
        record.add_gaussian(noise_multiplier=pca_sigma)
    record.add_sgd(noise_multiplier=sigma, sampling_rate=lot / num_examples, steps=epochs * -(-num_examples // lot))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return record.epsilon(delta=delta, accountant=accountant)


def test_abadi2016_matches_paper_protocol():
    """Section 5.2 of Abadi et al. 2016: PCA 60, 1000 units, lot 600, clip 4, lr 0.1 -> 0.052 over 10 epochs."""
    settings = CONFIGS["abadi2016"].settings
    assert settings["pca"] == 60
    assert tuple(settings["hidden"]) == (1000,)
    assert settings["lot_size"] == 600
    assert settings["clip_norm"] == 4.0
    assert (settings["learning_rate"], settings["final_learning_rate"], settings["decay_epochs"]) == (0.1, 0.052, 10.0)
    assert settings["accountant"] == "moments"
    assert settings["delta"] == 1e-5
    levels = {name: (level.noise_multiplier, level.pca_noise_multiplier, level.target_epsilon)
              for name, level in CONFIGS["abadi2016"].levels.items()}
    assert levels == {"small": (2.0, 4.0, 8.0), "medium": (4.0, 7.0, 2.0), "large": (8.0, 16.0, 0.5)}


@pytest.mark.parametrize(("steps", "reference_epsilon"), [(10_000, 1.258574741), (40_000, 2.575872501)])
def test_epochs_within_budget_matches_reference(steps, reference_epsilon):
    """Without PCA, q = 0.01 and sigma = 4: the reference table's moments epsilon at T steps buys exactly T/100 epochs."""
    epochs = epochs_within_budget(
        target_epsilon=reference_epsilon + 1e-7, noise_multiplier=4.0, lot_size=600, num_examples=N, delta=1e-5,
        accountant="moments",
    )
    assert epochs == steps // 100


@pytest.mark.parametrize("level", ["small", "medium", "large"])
def test_abadi2016_epochs_are_maximal(level):
    """The fitted epoch count, PCA included, spends at most the target, and one more epoch would exceed it."""
    noise = CONFIGS["abadi2016"].levels[level]
    settings = config_settings("abadi2016", num_examples=N, noise=level)
    epochs = settings["epochs"]
    common = {"sigma": noise.noise_multiplier, "lot": 600, "pca_sigma": noise.pca_noise_multiplier, "accountant": "moments"}
    assert total_epsilon(epochs=epochs, **common) <= noise.target_epsilon
    assert total_epsilon(epochs=epochs + 1, **common) > noise.target_epsilon
    without_pca = epochs_within_budget(
        target_epsilon=noise.target_epsilon, noise_multiplier=noise.noise_multiplier, lot_size=600, num_examples=N,
        delta=1e-5, accountant="moments",
    )
    assert epochs < without_pca


def test_epochs_depend_on_dataset_size():
    """The 4,000-image sample has q = 0.15, so the medium budget buys far fewer epochs than on 60,000 images."""
    full = config_settings("abadi2016", num_examples=N, noise="medium")["epochs"]
    sample = config_settings("abadi2016", num_examples=4_000, noise="medium")["epochs"]
    assert sample < full / 5


@pytest.mark.parametrize("target", [1.0, 3.0, 8.0])
def test_modern_noise_is_smallest_within_target(target):
    """The calibrated noise multiplier meets the target and a 0.05% smaller one does not (pld)."""
    settings = config_settings("modern", num_examples=N, target_epsilon=target)
    sigma, lot, epochs = settings["noise_multiplier"], settings["lot_size"], settings["epochs"]
    assert settings["pca"] is None
    assert total_epsilon(sigma=sigma, lot=lot, epochs=epochs, pca_sigma=None, accountant="pld") <= target
    assert total_epsilon(sigma=sigma * 0.9995, lot=lot, epochs=epochs, pca_sigma=None, accountant="pld") > target


def test_noise_within_budget_counts_pca():
    """Adding a DP-PCA release forces more noise than DP-SGD alone needs, and the result still meets the target."""
    common = {"target_epsilon": 2.0, "epochs": 20, "lot_size": 1000, "num_examples": N, "delta": 1e-5, "accountant": "rdp"}
    alone = noise_multiplier_within_budget(**common)
    with_pca = noise_multiplier_within_budget(pca_noise_multiplier=8.0, **common)
    assert alone == noise_multiplier_for(target_epsilon=2.0, sampling_rate=1000 / N, steps=20 * 60, delta=1e-5)
    assert with_pca > alone
    assert total_epsilon(sigma=with_pca, lot=1000, epochs=20, pca_sigma=8.0, accountant="rdp") <= 2.0
    assert total_epsilon(sigma=with_pca * 0.9995, lot=1000, epochs=20, pca_sigma=8.0, accountant="rdp") > 2.0


def test_overrides_replace_values_and_refit():
    """Explicit epochs are kept; an explicit lot size or public PCA changes the fitted epoch count."""
    kept = config_settings("abadi2016", num_examples=N, noise="medium", overrides={"epochs": 3})
    assert kept["epochs"] == 3
    assert kept["noise_multiplier"] == 4.0

    bigger_lots = config_settings("abadi2016", num_examples=N, noise="medium", overrides={"lot_size": 1200})
    assert bigger_lots["lot_size"] == 1200
    assert bigger_lots["epochs"] == epochs_within_budget(
        target_epsilon=2.0, noise_multiplier=4.0, lot_size=1200, num_examples=N, delta=1e-5, accountant="moments",
        pca_noise_multiplier=7.0,
    )

    public = config_settings("abadi2016", num_examples=N, noise="medium", overrides={"pca_public": True})
    private = config_settings("abadi2016", num_examples=N, noise="medium")
    assert public["epochs"] > private["epochs"]


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: config_settings("abadi2017", num_examples=N), "config"),
        (lambda: config_settings("abadi2016", num_examples=N, noise="tiny"), "noise"),
        (lambda: config_settings("abadi2016", num_examples=N, noise="large", target_epsilon=0.3), "target_epsilon"),
        (lambda: config_settings("abadi2016", num_examples=N, target_epsilon=-1.0), "target_epsilon"),
        (lambda: config_settings("abadi2016", num_examples=500, noise="medium"), "lot_size"),
    ],
)
def test_invalid_requests_name_parameter(call, names):
    with pytest.raises(ValueError, match=names):
        call()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dpkit", *args], capture_output=True, text=True, timeout=300)


def test_cli_config_with_explicit_overrides(tmp_path):
    """`dpkit train --config abadi2016`: the configuration's values, except the flags typed, even a default-valued one."""
    output = tmp_path / "run.json"
    completed = run_cli(
        "train", "--config", "abadi2016", "--noise", "small", "--dataset", "digits", "--pca", "30",
        "--lot-size", "64", "--epochs", "2", "--json", str(output),
    )
    assert completed.returncode == 0, completed.stderr
    config = json.loads(output.read_text())["config"]
    assert config["lot_size"] == 64  # equal to the flag's default, but typed, so it wins
    assert config["pca"] == 30
    assert config["epochs"] == 2
    assert config["clip_norm"] == 4.0
    assert config["noise_multiplier"] == 2.0
    assert config["pca_noise_multiplier"] == 4.0
    assert config["final_learning_rate"] == 0.052
    assert config["accountant"] == "moments"


def test_cli_config_fits_epochs_to_dataset(tmp_path):
    """Without --epochs, the run trains the epochs that the small level's budget allows on digits' training set."""
    output = tmp_path / "run.json"
    completed = run_cli(
        "train", "--config", "abadi2016", "--noise", "small", "--dataset", "digits", "--pca", "30",
        "--lot-size", "200", "--json", str(output),
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(output.read_text())
    num_examples = len(load("digits").x_train)
    expected_epochs = epochs_within_budget(
        target_epsilon=8.0, noise_multiplier=2.0, lot_size=200, num_examples=num_examples, delta=1e-5,
        accountant="moments", pca_noise_multiplier=4.0,
    )
    assert result["config"]["epochs"] == expected_epochs
    assert result["epsilon"] <= 8.0


def test_cli_target_epsilon_without_config_fails():
    completed = run_cli("train", "--dataset", "digits", "--target-epsilon", "2")
    assert completed.returncode == 2
    assert "--target-epsilon needs --config" in completed.stderr
