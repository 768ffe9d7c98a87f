"""The README's Python example, run as written in a fresh process on a machine with no display and no
``MUJOCO_GL`` (the package must choose MuJoCo's GL backend before MuJoCo is imported), writes its summary."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md's 'From Python' section lost its python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_writes_its_summary_headless(tmp_path: Path) -> None:
    code = readme_python_example()
    run_dir = re.search(r'run_dir="([^"]+)"', code)
    assert run_dir, "the example names its run_dir"
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads((tmp_path / run_dir.group(1) / "summary.json").read_text())
    assert summary["labels_used"] == 200
    assert summary["baseline_return_true"]["episodes"] >= 1 and summary["normalized_score"] is not None
    assert (tmp_path / summary["files"]["video"]).stat().st_size > 10_000  # the video was rendered headless
    assert "learned-reward PPO" in r.stdout  # the summary table printed
