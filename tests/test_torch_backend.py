"""The torch backend against the NumPy reference, autograd and the clipping bound.

Every test but the import test needs torch: it skips without it, and fails instead
under DPKIT_REQUIRE_TORCH=1.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dpkit
from conftest import require_torch
from dpkit.dpsgd import NumpyMLPBackend

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run torch on one thread: the models here are tiny, and on a busy 2-core machine a second thread mostly waits."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPOSITORY, capture_output=True, text=True, timeout=120
    )


def test_import_dpkit_does_not_import_torch():
    completed = _run_python(
        """
        import sys
        import dpkit
        assert "torch" not in sys.modules, "import dpkit imported torch"
        """
    )
    assert completed.returncode == 0, completed.stderr


def test_numpy_path_works_with_torch_missing():
    # A meta-path finder that fails every `import torch`, as on a machine without torch.
    completed = _run_python(
        """
        import importlib.abc
        import sys

        class TorchBlocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, TorchBlocker())
        import dpkit
        result = dpkit.train(dataset="digits", epochs=1, hidden=(8,), lot_size=64)
        assert 0.0 <= result.test_accuracy <= 1.0
        try:
            dpkit.train(dataset="digits", epochs=1, hidden=(8,), lot_size=64, backend="torch")
        except ImportError as error:
            assert "pip install" in str(error), str(error)
        else:
            raise AssertionError("backend='torch' without torch did not raise ImportError")
        """
    )
    assert completed.returncode == 0, completed.stderr


# --- parity with the NumPy backend ---------------------------------------------------------


def _numpy_noise_backend(torch):
    """A TorchBackend whose noise is the NumPy backend's: same generator calls, same order."""
    from dpkit.torch_backend import TorchBackend

    class NumpyNoiseBackend(TorchBackend):
        def draw_noise(self, noise_rng):
            std = self.noise_multiplier * self.clip_norm
            noise = {}
            for name, param in self.module.named_parameters():
                # add_gaussian_noise draws a Linear weight in the NumPy layout (fan_in, fan_out).
                numpy_shape = tuple(reversed(param.shape)) if param.ndim == 2 else tuple(param.shape)
                values = noise_rng.normal(0.0, std, size=numpy_shape)
                noise[name] = torch.from_numpy(values.T.copy() if param.ndim == 2 else values).to(self.device)
            return noise

    return NumpyNoiseBackend


@pytest.mark.parametrize("clip_method", ["auto", "vmap"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_step_matches_numpy_backend_in_float64(momentum, clip_method):
    torch = require_torch()
    from dpkit.torch_backend import build_mlp

    layer_sizes = (64, 16, 12, 10)
    settings = dict(clip_norm=0.5, noise_multiplier=1.3, lot_size=20, batch_size=7, momentum=momentum)
    reference = NumpyMLPBackend(layer_sizes=layer_sizes, init_rng=np.random.default_rng(3), **settings)
    module = build_mlp(layer_sizes, rng=np.random.default_rng(3), dtype=torch.float64, device=torch.device("cpu"))
    candidate = _numpy_noise_backend(torch)(module, input_shape=(64,), clip_method=clip_method, **settings)

    data_rng = np.random.default_rng(0)
    x = data_rng.random((100, 64)) * 4.0  # large enough inputs that some gradients get clipped
    labels = data_rng.integers(0, 10, size=100)
    lots = [np.flatnonzero(data_rng.random(100) < 0.2) for _ in range(3)] + [np.zeros(0, dtype=np.int64)]

    all_norms = []
    for step, lot in enumerate(lots):
        expected_norms = reference.noisy_step(x, labels, lot, learning_rate=0.3, noise_rng=np.random.default_rng(step))
        norms = candidate.noisy_step(x, labels, lot, learning_rate=0.3, noise_rng=np.random.default_rng(step))
        assert norms.shape == expected_norms.shape
        np.testing.assert_allclose(norms, expected_norms, rtol=0, atol=1e-10)
        all_norms.extend(expected_norms)
        for got, expected in zip(candidate.params, reference.params):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    assert any(norm > settings["clip_norm"] for norm in all_norms), "no gradient was clipped; the test is too weak"
    assert any(norm < settings["clip_norm"] for norm in all_norms), "every gradient was clipped; the test is too weak"


def test_cuda_step_matches_cpu_step_in_float64():
    torch = require_torch()
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from dpkit.torch_backend import build_cnn

    settings = dict(input_shape=(1, 28, 28), clip_norm=0.5, noise_multiplier=1.0, lot_size=6, batch_size=4, momentum=0.5)
    backends = []
    for device in ("cpu", "cuda"):
        module = build_cnn((28, 28), 10, rng=np.random.default_rng(0), dtype=torch.float64, device=torch.device(device))
        backends.append(_numpy_noise_backend(torch)(module, **settings))
    data_rng = np.random.default_rng(1)
    x, labels = data_rng.random((12, 784)), data_rng.integers(0, 10, size=12)

    for step in range(2):
        lot = np.flatnonzero(data_rng.random(12) < 0.5)
        for backend in backends:
            backend.noisy_step(x, labels, lot, learning_rate=0.5, noise_rng=np.random.default_rng(step))
    for on_cpu, on_cuda in zip(backends[0].params, backends[1].params):
        np.testing.assert_allclose(on_cuda, on_cpu, rtol=0, atol=1e-10)


def test_ten_seeds_on_digits_agree_in_mean_accuracy():
    require_torch()
    settings = dict(
        dataset="digits", epochs=3, hidden=(32,), lot_size=64, noise_multiplier=1.0, clip_norm=1.0, learning_rate=0.5
    )
    accuracies = {"numpy": [], "torch": []}
    epsilons = {"numpy": [], "torch": []}
    for seed in range(10):
        for backend in accuracies:
            result = dpkit.train(seed=seed, backend=backend, **settings)
            accuracies[backend].append(result.test_accuracy)
            epsilons[backend].append(result.epsilon)

    # Same lots and steps, so the accounting must be identical.
    assert epsilons["numpy"] == epsilons["torch"]

    numpy_accuracy, torch_accuracy = np.array(accuracies["numpy"]), np.array(accuracies["torch"])
    assert numpy_accuracy.mean() > 0.5, "the short run learns too little to compare backends"
    standard_error = np.sqrt(numpy_accuracy.var(ddof=1) / 10 + torch_accuracy.var(ddof=1) / 10)
    difference = abs(numpy_accuracy.mean() - torch_accuracy.mean())
    assert difference <= 2 * standard_error, (numpy_accuracy, torch_accuracy)


# --- per-example gradients and clipping for convolutional models ----------------------------


def _small_group_norm_cnn(torch):
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=3, padding=1),
            nn.GroupNorm(2, 4),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(4, 6, kernel_size=3),
            nn.Tanh(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(6 * 2 * 2, 5),
        ).double()


def _models(torch):
    from dpkit.torch_backend import build_cnn

    cnn = build_cnn((28, 28), 10, rng=np.random.default_rng(1), dtype=torch.float64, device=torch.device("cpu"))
    return {"tanh CNN": (cnn, (1, 28, 28), 10), "GroupNorm CNN": (_small_group_norm_cnn(torch), (1, 12, 12), 5)}


@pytest.mark.parametrize("model_name", ["tanh CNN", "GroupNorm CNN"])
def test_cnn_per_example_gradients_match_autograd_loop(model_name):
    torch = require_torch()
    from dpkit.torch_backend import per_example_gradients

    module, input_shape, num_classes = _models(torch)[model_name]
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(5, *input_shape, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, num_classes, (5,), generator=generator)
    params = {name: p.detach() for name, p in module.named_parameters()}

    gradients = per_example_gradients(module, params, x, labels)
    for i in range(5):
        loss = torch.nn.functional.cross_entropy(module(x[i : i + 1]), labels[i : i + 1])
        expected = torch.autograd.grad(loss, list(module.parameters()))
        for (name, _), reference in zip(module.named_parameters(), expected):
            torch.testing.assert_close(gradients[name][i], reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("removed", [0, 3, 7])
def test_cnn_clipped_sum_moves_at_most_clip_norm(removed):
    torch = require_torch()
    from dpkit.torch_backend import build_cnn, clipped_gradient_sum

    clip_norm = 0.1
    module = build_cnn((28, 28), 10, rng=np.random.default_rng(4), dtype=torch.float64, device=torch.device("cpu"))
    generator = torch.Generator().manual_seed(5)
    x = torch.rand(8, 1, 28, 28, generator=generator, dtype=torch.float64)
    x[removed] *= 50.0  # an outlier whose unclipped gradient is far larger than clip_norm
    labels = torch.randint(0, 10, (8,), generator=generator)

    lot = np.arange(8)
    neighbour_lot = np.delete(lot, removed)
    full_sum, norms = clipped_gradient_sum(module, x, labels, lot, clip_norm=clip_norm, batch_size=3)
    neighbour_sum, _ = clipped_gradient_sum(module, x, labels, neighbour_lot, clip_norm=clip_norm, batch_size=3)

    assert norms[removed] > 2 * clip_norm, "the removed example was not clipped; the test is too weak"
    squared = sum(float((full_sum[name] - neighbour_sum[name]).square().sum()) for name in full_sum)
    # The difference is the removed example's gradient scaled to norm exactly clip_norm.
    assert np.sqrt(squared) <= clip_norm * (1 + 1e-9)
    assert np.sqrt(squared) == pytest.approx(clip_norm, rel=1e-9)


def test_cnn_has_the_published_layer_sizes():
    torch = require_torch()
    from dpkit.torch_backend import build_cnn

    module = build_cnn((28, 28), 10, rng=np.random.default_rng(0), dtype=torch.float32, device=torch.device("cpu"))
    # conv 1->16 8x8, conv 16->32 4x4, dense 32*4*4 -> 32, dense 32 -> 10, each with a bias.
    expected = (16 * 1 * 8 * 8 + 16) + (32 * 16 * 4 * 4 + 32) + (32 * 4 * 4 * 32 + 32) + (32 * 10 + 10)
    assert sum(p.numel() for p in module.parameters()) == expected
    assert module(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_batch_norm_is_rejected_with_group_norm_advice():
    torch = require_torch()
    from torch import nn

    from dpkit.torch_backend import TorchBackend

    module = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    with pytest.raises(ValueError, match="GroupNorm"):
        TorchBackend(module, input_shape=(1, 28, 28), clip_norm=1.0, noise_multiplier=1.0, lot_size=8, batch_size=8)


# --- noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True])
def test_noise_has_std_noise_multiplier_times_clip_norm(secure):
    torch = require_torch()
    from scipy import stats

    from dpkit.torch_backend import TorchBackend

    module = torch.nn.Linear(400, 250, dtype=torch.float32)
    backend = TorchBackend(
        module, input_shape=(400,), clip_norm=0.7, noise_multiplier=1.5, lot_size=8, batch_size=8, secure_noise=secure
    )
    noise = backend.draw_noise(np.random.default_rng(0))
    assert all(noise[name].dtype == torch.float32 for name in noise)
    assert noise["weight"].shape == (250, 400)

    values = torch.cat([part.flatten() for part in noise.values()]).double().numpy()
    expected_std = 1.5 * 0.7
    # The sample std of n normals has standard error std / sqrt(2 n); allow five of them.
    tolerance = 5 * expected_std / np.sqrt(2 * len(values))
    assert abs(values.std() - expected_std) <= tolerance
    assert abs(values.mean()) <= 5 * expected_std / np.sqrt(len(values))
    assert stats.kstest(values / expected_std, "norm").pvalue > 1e-4


def _draw_weight_noise(torch, *, secure):
    from dpkit.torch_backend import TorchBackend

    module = torch.nn.Linear(20, 5)
    backend = TorchBackend(
        module, input_shape=(20,), clip_norm=1.0, noise_multiplier=1.0, lot_size=4, batch_size=4, secure_noise=secure
    )
    return backend.draw_noise(np.random.default_rng(7))["weight"]


def test_seeded_noise_is_reproducible():
    torch = require_torch()
    assert torch.equal(_draw_weight_noise(torch, secure=False), _draw_weight_noise(torch, secure=False))


def test_secure_noise_ignores_seed():
    torch = require_torch()
    assert not torch.equal(_draw_weight_noise(torch, secure=True), _draw_weight_noise(torch, secure=True))


def test_empty_lot_update_is_pure_noise():
    torch = require_torch()
    from dpkit.torch_backend import build_mlp

    module = build_mlp((6, 3), rng=np.random.default_rng(0), dtype=torch.float64, device=torch.device("cpu"))
    backend = _numpy_noise_backend(torch)(
        module, input_shape=(6,), clip_norm=2.0, noise_multiplier=0.5, lot_size=10, batch_size=4
    )
    before = backend.params
    x, labels = np.ones((4, 6)), np.zeros(4, dtype=np.int64)
    norms = backend.noisy_step(x, labels, np.zeros(0, dtype=np.int64), learning_rate=0.1, noise_rng=np.random.default_rng(1))

    assert norms.shape == (0,)
    noise_rng = np.random.default_rng(1)
    for old, new in zip(before, backend.params):
        expected_noise = noise_rng.normal(0.0, 0.5 * 2.0, size=old.shape)
        np.testing.assert_allclose(new, old - 0.1 * expected_noise / 10, rtol=0, atol=1e-12)


# --- the trainer's torch options --------------------------------------------------------------


def test_train_with_cnn_on_images_reports_numpy_accounting():
    require_torch()
    rng = np.random.default_rng(0)
    images = dpkit.data.Dataset(
        name="random images",
        x_train=rng.random((120, 784)),
        y_train=rng.integers(0, 10, 120),
        x_test=rng.random((30, 784)),
        y_test=rng.integers(0, 10, 30),
        num_classes=10,
        image_shape=(28, 28),
        source="test",
    )
    settings = dict(dataset=images, epochs=1, lot_size=30, hidden=(8,), noise_multiplier=1.0, seed=1)
    cnn = dpkit.train(backend="torch", model="cnn", **settings)
    mlp = dpkit.train(backend="numpy", **settings)
    assert cnn.steps == mlp.steps
    assert cnn.epsilon == mlp.epsilon
    assert len(cnn.params) == 8  # weight and bias of two conv and two dense layers


def test_bad_torch_settings_raise_value_errors():
    torch = require_torch()
    with pytest.raises(ValueError, match="14x14"):
        dpkit.train(dataset="digits", epochs=1, backend="torch", model="cnn")
    with pytest.raises(ValueError, match="pca"):
        dpkit.train(dataset="digits", epochs=1, backend="torch", model="cnn", pca=10)
    with pytest.raises(ValueError, match="device"):
        dpkit.train(dataset="digits", epochs=1, backend="torch", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            dpkit.train(dataset="digits", epochs=1, backend="torch", device="cuda")
