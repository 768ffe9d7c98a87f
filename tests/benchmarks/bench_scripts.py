"""Load the benchmark scripts (``benchmarks/`` is not a package) as modules for the tests.

A module of its own, not ``conftest``: every test folder has a ``conftest`` and a test file's ``from conftest
import ...`` would find whichever was imported first when several folders are collected together."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
