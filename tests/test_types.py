"""The type checker runs over the packages whose annotations are kept clean (the shared core first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = [
    "rlhf_robotics/preference",
    "rlhf_robotics/typed_config.py",
    *[f"rlhf_robotics/robotics/{m}.py" for m in (
        "buffer", "config", "evaluation", "loop", "physics", "policy", "reward_wrapper", "schedule", "segments", "summary")],
    "rlhf_robotics/cli",
]


@pytest.mark.slow
def test_mypy_is_clean_on_checked_packages() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=silent", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
