"""``benchmarks/objective_ablation.py``: PPO on a suite task's objective with a term changed, judged by the
unchanged verifier and the unchanged objective; one seed per job, resumable; bad arguments name the fix."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_script


@pytest.fixture(scope="module")
def ablation() -> ModuleType:
    return load_script("objective_ablation")


def test_a_seed_trains_on_the_changed_objective_and_is_judged_on_the_unchanged_one(
        ablation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ablation.suite, "EVAL_EPISODES", 2)
    work, out = tmp_path / "work", tmp_path / "out.json"
    flags = ["--task", "hopper_backflip", "--kwargs", '{"landing_reward": 0, "height_reward_weight": 0}',
             "--steps", "2048", "--work", str(work), "--out", str(out)]
    assert ablation.main([*flags, "--run-seed", "0"]) == 0
    run = json.loads((work / "seed0.json").read_text())
    assert run["kwargs"] == {"landing_reward": 0, "height_reward_weight": 0} and run["steps"] == 2048
    assert run["eval_episodes"] == 2 and 0.0 <= run["success"]["rate"] <= 1.0
    # the changed objective pays no height; the true one pays the torso's height each of the 300 steps (> 0.1 m even
    # lying down), so the same episodes score more on it
    assert run["return_true"]["mean"] > run["return_changed_objective"]["mean"] + 0.1 * 300
    # the seed is done: gathering runs nothing and reports it
    assert ablation.main([*flags, "--seeds", "0"]) == 0
    data = json.loads(out.read_text())
    assert data["seeds"] == [0] and data["success_rate_by_seed"] == [run["success"]["rate"]]
    assert data["task"] == "hopper_backflip" and "commit" in data


@pytest.mark.parametrize("flags, message", [
    (["--task", "hopper", "--kwargs", '{"landing_reward": 0}'], "--task 'hopper' is no suite task"),
    (["--task", "hopper_backflip", "--kwargs", "landing_reward=0"], "is not JSON"),
    (["--task", "hopper_backflip", "--kwargs", "{}"], "at least one keyword argument"),
    (["--task", "hopper_backflip", "--kwargs", '{"landing": 0}'], "unexpected keyword argument 'landing'"),
])
def test_bad_arguments_name_the_value_and_the_fix(ablation: ModuleType, tmp_path: Path, flags: list[str],
                                                  message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ablation.main([*flags, "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o.json")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
