"""Load the benchmark scripts (``benchmarks/`` is not a package) as modules for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (its own ``sys.path`` entry finds ``_common``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def label_efficiency() -> ModuleType:
    return load_script("label_efficiency")


@pytest.fixture(scope="session")
def make_results() -> ModuleType:
    return load_script("make_results")



@pytest.fixture(scope="session")
def imitation_runner() -> ModuleType:
    return load_script("imitation_runner")
