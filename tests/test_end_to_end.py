"""The README's experiment command, end to end, at smoke size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest


@pytest.mark.slow
def test_cli_smoke_experiment_produces_every_output(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    r = subprocess.run(
        [sys.executable, "-m", "rlhf_robotics.cli.main", "+experiment=smoke", f"run_dir={run}", f"video_dir={tmp_path}/videos",
         "quiet=true"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "true return, learned-reward PPO" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels_used"] == 40
    # even at smoke size, the learned-reward policy beats random actions on the hidden objective
    assert summary["policy_return_true"]["mean"] > summary["random_return_true"]["mean"]
    assert summary["baseline_return_true"] is not None
    for name in ("learning_curve.png", "metrics.jsonl", "config.json", "preferences.sqlite", "checkpoints/latest.json"):
        assert (run / name).stat().st_size > 0, name
    assert any((run / "tb").iterdir())
    video = Path(summary["files"]["video"])
    frames = iio.imread(video)
    assert frames.shape[0] > 10 and frames.std() > 5  # a real, non-blank clip
