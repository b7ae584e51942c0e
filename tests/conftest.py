"""Shared fixtures: real datasets and optional dependencies that skip or fail.

A test that needs data or torch skips with a reason when it is missing, so the
suite runs anywhere. CI sets ``DPKIT_REQUIRE_REAL_DATA=1`` and
``DPKIT_REQUIRE_TORCH=1`` to turn those skips into failures, so a CI machine
that lost its data or torch cannot pass by skipping.
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest

from dpkit.data import Dataset, DatasetNotFoundError, load


def _skip_or_fail(env_var: str, reason: str) -> None:
    if os.environ.get(env_var) == "1":
        pytest.fail(f"{reason} ({env_var}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


def require_real_data(name: str) -> Dataset:
    """Load dataset ``name`` from disk without downloading, or skip (fail under DPKIT_REQUIRE_REAL_DATA=1).

    Only a missing dataset skips. A file with a wrong checksum or a malformed
    file raises as usual, because that is a real problem to fix.
    """
    try:
        return load(name, download=False)
    except DatasetNotFoundError as error:
        first_line = str(error).splitlines()[0]
        _skip_or_fail("DPKIT_REQUIRE_REAL_DATA", f"{name} is not available offline: {first_line}")
        raise  # unreachable: _skip_or_fail always raises


def require_torch() -> ModuleType:
    """Import and return torch, or skip (fail under DPKIT_REQUIRE_TORCH=1)."""
    try:
        import torch
    except ImportError as error:
        _skip_or_fail("DPKIT_REQUIRE_TORCH", f"torch is not installed: {error}")
        raise  # unreachable: _skip_or_fail always raises
    return torch


@pytest.fixture(scope="session")
def fashion_mnist() -> Dataset:
    """Fashion-MNIST loaded once per test session (about 0.4 GB of float64 features)."""
    return require_real_data("fashion-mnist")
