"""Fixtures of the repair tests that run the tiny model: one sandbox pool and one loop engine per test module."""

import pytest

from repair.execution import SandboxPool
from repair.loop import Engine


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(1) as p:
        yield p


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from inference.loading import load_model

    return Engine.from_loaded(load_model(tiny_model_dir, device="cpu"))
