"""``benchmarks/pusher_reward_probe.py`` (issue 15): a PusherGentle loop run's learned reward on a scripted approach
to the object beside the loop policy's own steps, per fingertip–object distance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load_script


def test_the_scripted_arm_reaches_the_object_with_small_actions() -> None:
    import rlhf_robotics.envs  # noqa: F401  (registers the suite's tasks)

    from rlhf_robotics.robotics.physics import env_factory

    probe = load_script("pusher_reward_probe")
    env = env_factory("rlhf_robotics/PusherGentle-v2", {}, False)()
    steps = probe.scripted_approach(env, episodes=2, seed=100, gain=3.0, damping=0.1)
    env.close()
    assert steps["features"].shape == (200, env.observation_space.shape[0] + 7)
    assert steps["distance"][0] > 0.3 and steps["distance"].min() < 0.1  # starts far, gets within 10 cm
    assert np.abs(steps["features"][:, -7:]).mean() < 0.2  # small torques: control cost is not what it is scored on


def test_bins_split_the_sources_and_report_only_bins_with_enough_steps() -> None:
    probe = load_script("pusher_reward_probe")
    n = 25
    source = np.array(["loop"] * n + ["scripted"] * n + ["scripted"] * 3)
    distance = np.concatenate([np.full(n, 0.12), np.full(n, 0.12), np.full(3, 0.02)])
    learned = np.concatenate([np.full(n, 0.5), np.full(n, -1.0), np.full(3, 2.0)])
    rows = probe.by_distance(source, distance, learned, np.full(2 * n + 3, 0.1), np.full(2 * n + 3, -0.3))
    at = {(tuple(r["tip_object_distance"]), r["source"]): r for r in rows}
    assert at[((0.1, 0.15), "loop")]["learned"] == pytest.approx(0.5)
    assert at[((0.1, 0.15), "scripted")]["learned"] == pytest.approx(-1.0)
    assert at[((0.0, 0.05), "scripted")] == {"tip_object_distance": [0.0, 0.05], "source": "scripted", "steps": 3}
    assert len(rows) == 2 * (len(probe.EDGES) - 1)


def test_bad_arguments_name_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probe = load_script("pusher_reward_probe")
    with pytest.raises(SystemExit):
        probe.main([str(tmp_path), "--episodes", "0"])
    assert "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.main([str(tmp_path)])
    assert "not a run directory" in capsys.readouterr().err
