"""dpkit: differentially private SGD (Abadi et al. 2016) in readable NumPy.

The public API:

* :func:`train` runs DP-SGD and returns a :class:`TrainResult` with the test
  accuracy, the epsilon spent and a per-epoch history.
* :mod:`dpkit.accounting` computes epsilon for given noise, sampling rate and steps
  (``dpkit.accounting.epsilon``), and the inverse queries.
* :mod:`dpkit.data` loads the digits, Fashion-MNIST and MNIST datasets.

torch is imported only when ``backend="torch"`` is requested.
"""

from importlib.metadata import PackageNotFoundError, version

from dpkit import accounting, data
from dpkit.training import ShuffledLotsWarning, TrainConfig, TrainResult, train

try:
    __version__ = version("dpkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["ShuffledLotsWarning", "TrainConfig", "TrainResult", "__version__", "accounting", "data", "train"]
