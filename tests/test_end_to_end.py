"""The README's experiment command, end to end, at smoke size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from rlhf_robotics.preference.records import current_judgments
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.robotics.segments import SegmentStore


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
    check_evaluation_maths(summary, run)
    for name in ("learning_curve.png", "metrics.jsonl", "config.json", "preferences.sqlite", "checkpoints/latest.json"):
        assert (run / name).stat().st_size > 0, name
    assert any((run / "tb").iterdir())
    video = Path(summary["files"]["video"])
    frames = iio.imread(video)
    assert frames.shape[0] > 10 and frames.std() > 5  # a real, non-blank clip


def check_evaluation_maths(summary: dict, run: Path) -> None:
    """summary.json's derived numbers follow from its parts, and the stored labels from the stored segments."""
    ours, rand = summary["policy_return_true"], summary["random_return_true"]
    base = summary["baseline_return_true"]
    assert base is not None, "the smoke experiment trains the true-reward PPO baseline"
    for stats in (ours, rand, base):
        assert stats["episodes"] == 2 and stats["std"] >= 0  # eval_episodes in conf/experiment/smoke.yaml
    # normalised score: (ours − random) / (true-reward PPO − random); fraction: ours / PPO when both are >= 0
    assert summary["normalized_score"] == pytest.approx((ours["mean"] - rand["mean"]) / (base["mean"] - rand["mean"]))
    if base["mean"] > 0 and ours["mean"] >= 0:
        assert summary["fraction_of_true_reward_ppo"] == pytest.approx(ours["mean"] / base["mean"])
    else:
        assert summary["fraction_of_true_reward_ppo"] is None
    for key in ("reward_model_accuracy_vs_oracle", "reward_model_val_accuracy"):
        assert 0.0 <= summary[key] <= 1.0, key
    for key in ("reward_correlation_step", "reward_correlation_segment"):
        assert -1.0 <= summary[key] <= 1.0, key
    assert summary["reward_model_accuracy_vs_oracle"] > 0.5  # better than a coin on fresh pairs, even at smoke size
    # the oracle teacher's labels agree with the true returns of the stored segments they judged
    store = PreferenceStore(run / "preferences.sqlite")
    queries = {q.id: q.query for q in store.queries()}
    rows = current_judgments(store.judgments())
    store.close()
    assert sum(summary["label_counts"].values()) == len(rows) == summary["labels_used"]  # one oracle label per query
    segments = SegmentStore(run / "segments")
    first = segments.get([queries[r.judgment.query_id].first for r in rows]).returns()
    second = segments.get([queries[r.judgment.query_id].second for r in rows]).returns()
    labels = np.array([r.judgment.label for r in rows])
    np.testing.assert_array_equal(labels, np.where(first > second, "first", np.where(first < second, "second", "tie")))
