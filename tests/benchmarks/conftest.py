"""Fixtures of the benchmark scripts' tests (the scripts loaded as modules: :mod:`bench_scripts`)."""

from __future__ import annotations

from types import ModuleType

import pytest
from bench_scripts import load_script


@pytest.fixture(scope="session")
def label_efficiency() -> ModuleType:
    return load_script("label_efficiency")


@pytest.fixture(scope="session")
def make_results() -> ModuleType:
    return load_script("make_results")



@pytest.fixture(scope="session")
def imitation_runner() -> ModuleType:
    return load_script("imitation_runner")
