"""``benchmarks/suite_episode_breakdown.py`` (issue 15): per-episode means and last-step values of a task's info
terms, split by whether the verifier passed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bench_scripts import load_script


def test_episode_means_average_each_term_and_keep_its_last_value() -> None:
    breakdown = load_script("suite_episode_breakdown")
    steps = [{"x_velocity": 1.0, "fallen": False, "TimeLimit.truncated": False, "name": "a"},
             {"x_velocity": 3.0, "fallen": True, "TimeLimit.truncated": True, "name": "b"}]
    means = breakdown.episode_means(steps)
    assert means == {"x_velocity": 2.0, "fallen": 0.5, "final_x_velocity": 3.0, "final_fallen": 1.0,
                     "first_x_velocity": 1.0, "first_fallen": 0.0,
                     "episode_steps": 2.0}  # strings and wrappers' dotted keys are left out


def test_breakdown_splits_episodes_by_the_verifier_on_their_last_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rlhf_robotics.robotics.config as config
    import rlhf_robotics.robotics.evaluation as evaluation
    import rlhf_robotics.robotics.saved_run as saved_run

    breakdown = load_script("suite_episode_breakdown")
    episodes = [[{"mean_jerk": 30.0, "is_success": False}, {"mean_jerk": 40.0, "is_success": True}],
                [{"mean_jerk": 90.0, "is_success": True}, {"mean_jerk": 80.0, "is_success": False}],
                [{"mean_jerk": 60.0, "is_success": False}, {"mean_jerk": 70.0, "is_success": False}]]
    seen: dict[str, Any] = {}

    def evaluate(policy: Any, make_env: Any, n: int, seed: int, rms: Any, record: list[Any]) -> Any:
        seen.update(n=n, seed=seed)
        record.extend(episodes)
        return SimpleNamespace(success=SimpleNamespace(rate=1 / 3), returns=SimpleNamespace(mean=-5.0))

    env = SimpleNamespace(id="rlhf_robotics/ReacherSmooth-v3", kwargs={}, christiano=False)
    monkeypatch.setattr(config, "load_config", lambda run_dir: SimpleNamespace(env=env, seed=3))
    monkeypatch.setattr(evaluation, "evaluate_policy", evaluate)
    monkeypatch.setattr(saved_run, "load_policy", lambda run_dir: None)
    monkeypatch.setattr(saved_run, "load_obs_rms", lambda run_dir: None)
    row = breakdown.breakdown(tmp_path, 3)
    assert seen == {"n": 3, "seed": 10_003}  # the grid's evaluation episodes
    assert [e["success"] for e in row["per_episode"]] == [True, False, False]  # read on the last step only
    assert row["passing_episodes_mean"]["final_mean_jerk"] == 40.0
    assert row["failing_episodes_mean"]["final_mean_jerk"] == 75.0 and row["failing_episodes_mean"]["mean_jerk"] == 75.0
    assert row["success"] == pytest.approx(1 / 3)


def test_a_folder_without_a_run_is_refused_by_name(tmp_path: Path) -> None:
    breakdown = load_script("suite_episode_breakdown")
    with pytest.raises(SystemExit):
        breakdown.main([str(tmp_path), "--out", str(tmp_path / "out.json")])
    assert not (tmp_path / "out.json").exists()


def test_episodes_binned_by_where_they_started() -> None:
    breakdown = load_script("suite_episode_breakdown")
    episodes = [{"success": True, "first_distance": 0.1, "final_mean_jerk": 20.0},
                {"success": True, "first_distance": 0.35, "final_mean_jerk": 40.0},
                {"success": False, "first_distance": 0.4, "final_mean_jerk": 90.0}]
    near, far, empty = breakdown.by_bin(episodes, "first_distance", [0.0, 0.2, 0.5, 0.9])
    assert near == {"first_distance": [0.0, 0.2], "episodes": 1, "success": 1.0,
                    "medians": {"first_distance": 0.1, "final_mean_jerk": 20.0}}
    assert far["episodes"] == 2 and far["success"] == 0.5 and far["medians"]["final_mean_jerk"] == 65.0
    assert empty == {"first_distance": [0.5, 0.9], "episodes": 0}
    with pytest.raises(SystemExit, match="no such per-episode value"):
        breakdown.by_bin(episodes, "first_speed", [0.0, 1.0])
