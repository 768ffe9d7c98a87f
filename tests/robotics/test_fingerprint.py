"""The PPO loop's behaviour is pinned: the tiny run of ``test_loop.tiny`` gives the labels and reward-model weights
recorded from main at c76ef63 (before the hardening and any restructuring of the loop). A change that alters a
fresh run's labels or its fitted reward model fails here; if it is meant, re-record the fingerprint and say why in
the commit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
from test_loop import tiny  # tests/robotics is on sys.path (rootdir-relative, no __init__)

from rlhf_robotics.robotics.loop import run_experiment

FINGERPRINT = Path(__file__).parent / "fingerprints" / "ppo_loop_tiny.json"


def test_fresh_run_matches_the_recorded_fingerprint(tmp_path: Path) -> None:
    expected = json.loads(FINGERPRINT.read_text())
    run_experiment(tiny(tmp_path / "run"), progress=False)
    with sqlite3.connect(tmp_path / "run" / "preferences.sqlite") as c:
        labels = c.execute("SELECT q.first, q.second, j.label FROM judgments j JOIN queries q ON q.id = j.query_id "
                           "ORDER BY j.id").fetchall()
    assert [list(x) for x in labels] == expected["labels"]
    weights = torch.load(tmp_path / "run" / "checkpoints" / "round_003" / "reward_model.pt", weights_only=True)
    assert set(weights) == set(expected["weights"])
    for name, value in weights.items():
        want = expected["weights"][name]
        assert float(value.double().sum()) == pytest.approx(want["sum"], rel=1e-5, abs=1e-6), name
        assert float(value.double().norm()) == pytest.approx(want["norm"], rel=1e-5, abs=1e-6), name
