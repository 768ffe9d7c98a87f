"""Issue 16's bad input for the reliability model: asked for with nothing to anchor it (no gold questions, no
repeats) or for a synthetic teacher, the command stops before any work with the key, the value and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlhf_robotics.robotics.config import LabelsConfig, check_reliability_anchors


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``rlhf-robotics *args`` in a fresh interpreter."""
    code = "import sys\nfrom rlhf_robotics.cli.main import entry\nsys.exit(entry(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MUJOCO_GL": "egl"})


def assert_usage_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_reliability_without_gold_or_repeats_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    r = cli("labels.source=human", "labels.reliability=dawid_skene", "ui.gold_rate=0", "ui.repeat_rate=0",
            f"run_dir={tmp_path}/run", cwd=tmp_path)
    assert_usage_error(r, "labels.reliability='dawid_skene' with ui.gold_rate=0 and ui.repeat_rate=0")
    assert "set ui.gold_rate (e.g. 0.1) or ui.repeat_rate (e.g. 0.05) above 0, or labels.reliability=none" in r.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is created: no run folder, no log, no server"


def test_reliability_with_a_teacher_exits_2(tmp_path: Path) -> None:
    r = cli("labels.reliability=dawid_skene", f"run_dir={tmp_path}/run", cwd=tmp_path)
    assert_usage_error(r, "labels.reliability='dawid_skene' with labels.source='teacher'")
    assert "set labels.source=human, or labels.reliability=none" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_anchor_check_passes_with_either_gold_or_repeats() -> None:
    check_reliability_anchors("dawid_skene", 0.1, 0.0)
    check_reliability_anchors("dawid_skene", 0.0, 0.05)
    check_reliability_anchors("none", 0.0, 0.0)
    with pytest.raises(ValueError, match="labels.reliability='dawid_skene' with ui.gold_rate=0"):
        check_reliability_anchors("dawid_skene", 0.0, 0.0)
    with pytest.raises(ValueError, match="labels.reliability='majority': expected none or dawid_skene"):
        LabelsConfig(reliability="majority")  # type: ignore[arg-type]
