"""The loop's behaviour is pinned: tiny runs give the labels, reward-model weights and (off-policy) the final policy's
return recorded from main before the loop was split into stages. ``ppo`` was recorded at c76ef63 (before the
hardening too); the others at 635bf9c, the last commit with the single-class loop, all with the synchronous refit
(``test_loop.synchronous``); ``ppo_default`` with the default refit since issue 13, when it became the default. A change that alters a fresh run's
labels, its fitted reward model or its policy fails here; if it is meant, re-record with
``RECORD_FINGERPRINTS=1 pytest tests/robotics/test_fingerprint.py`` and say why in the commit."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_loop import tiny  # tests/robotics is on sys.path (rootdir-relative, no __init__)
from test_off_policy import tiny_off_policy

from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import ExperimentConfig, PretrainConfig, RewardModelConfig
from rlhf_robotics.robotics.loop import run_experiment

FINGERPRINTS = Path(__file__).parent / "fingerprints"


def _ppo_async(run_dir: Path) -> ExperimentConfig:
    c = tiny(run_dir)
    return replace(c, reward_model=replace(c.reward_model, async_training=True))


def _ppo_async_process(run_dir: Path) -> ExperimentConfig:
    c = tiny(run_dir)
    return replace(c, reward_model=replace(c.reward_model, async_training=True, refit_worker="process"))


def _ppo_default(run_dir: Path) -> ExperimentConfig:
    """The package's default refit (issue 13): in a worker process, taken over at the end of each round's first
    rollout, which is relabelled; B-Pref's stop."""
    return tiny(run_dir, reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5)))


def _pebble(run_dir: Path) -> ExperimentConfig:
    return replace(tiny_off_policy(run_dir), pretrain=PretrainConfig(steps=150, reset_updates=5))


CASES: dict[str, tuple[Callable[[Path], ExperimentConfig], int, str]] = {
    # name: (config, last round, fingerprint file)
    "ppo_loop_tiny": (tiny, 3, "ppo_loop_tiny"),
    "ppo_default_loop_tiny": (_ppo_default, 3, "ppo_default_loop_tiny"),
    "ppo_async_loop_tiny": (_ppo_async, 3, "ppo_async_loop_tiny"),
    # a refit in a worker process is the thread's computation: the same fingerprint
    "ppo_async_process_loop_tiny": (_ppo_async_process, 3, "ppo_async_loop_tiny"),
    "sac_relabel_loop_tiny": (tiny_off_policy, 2, "sac_relabel_loop_tiny"),
    "pebble_loop_tiny": (_pebble, 2, "pebble_loop_tiny"),
    "td3_loop_tiny": (lambda d: tiny_off_policy(d, algo="td3"), 2, "td3_loop_tiny"),
}


def _fingerprint(run_dir: Path, last_round: int) -> dict:
    with sqlite3.connect(run_dir / "preferences.sqlite") as c:
        labels = c.execute("SELECT q.first, q.second, j.label FROM judgments j JOIN queries q ON q.id = j.query_id "
                           "ORDER BY j.id").fetchall()
    weights = torch.load(run_dir / "checkpoints" / f"round_{last_round:03d}" / "reward_model.pt", weights_only=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"labels": [list(x) for x in labels],
            "weights": {k: {"sum": float(v.double().sum()), "norm": float(v.double().norm())} for k, v in weights.items()},
            "policy_return_true": summary["policy_return_true"]["mean"]}


@pytest.mark.parametrize("name", list(CASES))
def test_fresh_run_matches_the_recorded_fingerprint(tmp_path: Path, name: str) -> None:
    make, last_round, file = CASES[name]
    run_experiment(make(tmp_path / "run"), progress=False)
    got = _fingerprint(tmp_path / "run", last_round)
    path = FINGERPRINTS / f"{file}.json"
    if os.environ.get("RECORD_FINGERPRINTS") and not path.exists():
        path.write_text(json.dumps({"made_at_commit": os.environ["RECORD_FINGERPRINTS"], "config": name, **got}, indent=1))
    expected = json.loads(path.read_text())
    assert got["labels"] == expected["labels"]
    assert set(got["weights"]) == set(expected["weights"])
    # Labels are exact; weights to 1e-3: the fingerprints were recorded on an AMD EPYC, and on an Intel Xeon the
    # same code's reward-model weights differ by ~2e-5 (relative) after training — float rounding of other SIMD
    # kernels, the labels identical. A change of behaviour (other pairs, targets, loss or schedule) moves them by
    # far more.
    for key, want in expected["weights"].items():
        assert got["weights"][key]["sum"] == pytest.approx(want["sum"], rel=1e-3, abs=1e-5), key
        assert got["weights"][key]["norm"] == pytest.approx(want["norm"], rel=1e-3, abs=1e-5), key
    if "policy_return_true" in expected:  # the PPO fingerprint of c76ef63 predates this field
        assert got["policy_return_true"] == pytest.approx(expected["policy_return_true"], rel=1e-6)
