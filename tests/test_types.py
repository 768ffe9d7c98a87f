"""The type checker runs over the whole package, the suite's tasks included, and over the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["rlhf_robotics", "envs", "benchmarks"]  # the package (the suite's tasks live in envs/) and the benchmarks


@pytest.mark.slow
def test_mypy_is_clean_on_checked_packages() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=silent", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
