"""``rlhf-robotics gallery runs=[...]`` (issue 15): a run's final policy beside a random policy on its task."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import imageio.v3 as iio
import numpy as np
import pytest

from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    PPOConfig,
    RewardModelConfig,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlhf_robotics.robotics.loop import run_experiment

    run_dir = tmp_path_factory.mktemp("gallery") / "run"
    run_experiment(ExperimentConfig(
        env=EnvConfig(id="rlhf_robotics/ReacherSmooth-v1", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=12, rounds=2, initial_steps=200, buffer_steps=400),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=3)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        total_steps=256, seed=0, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False,
    ), progress=False)
    return run_dir


def test_policy_act_replays_the_saved_policy_on_normalised_observations(run: Path) -> None:
    from rlhf_robotics.robotics.gallery import policy_act
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy

    act, make_env, env_id, about = policy_act(run)
    assert env_id == "rlhf_robotics/ReacherSmooth-v1" and "256 steps" in about and "12 labels" in about
    policy, rms = load_policy(run), load_obs_rms(run)
    assert rms is not None  # the loop normalises observations: the gallery must apply the same statistics
    obs, _ = make_env().reset(seed=3)
    expected, _ = policy.predict(np.clip((obs - rms.mean) / np.sqrt(rms.var + 1e-8), -10, 10)[None], deterministic=True)
    np.testing.assert_allclose(act(obs), expected[0], rtol=1e-6)
    raw, _ = policy.predict(obs[None].astype(np.float32), deterministic=True)
    assert not np.allclose(raw[0], expected[0])  # so skipping the statistics would show a different behaviour


@pytest.mark.render
def test_gallery_shows_each_runs_final_policy_beside_a_random_one(run: Path, tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry
    from rlhf_robotics.robotics.gallery import policy_act, rollout_states

    out = tmp_path / "g"
    assert entry(["gallery", f"out={out}", "seconds=0.3", "size=32", "fps=20", f"runs=[{run}]"]) == 0
    summary = json.loads((out / "gallery.json").read_text())
    learned, random = summary["runs"]
    assert (learned["policy"], random["policy"]) == ("learned", "random")
    assert learned["env_id"] == random["env_id"] == "rlhf_robotics/ReacherSmooth-v1"
    act, make_env, env_id, _ = policy_act(run)
    _, _, _, ret, success = rollout_states(env_id, 0.3, 0, act, make_env)
    assert learned["return"] == pytest.approx(ret) and learned["success"] is success
    assert learned["return"] != pytest.approx(random["return"])
    for entry_ in (learned, random):
        assert iio.imread(out / entry_["clip"]).shape[1:] == (32, 32, 3)
    assert iio.imread(out / "contact_sheet.png").std() > 5


def test_gallery_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry

    assert entry(["gallery", f"out={tmp_path / 'g'}", f"runs=[{tmp_path}]"]) != 0


def _suite_results(path: Path, runs: list[tuple[str, str, int, float, Path | None]]) -> Path:
    """A suite results file (``benchmarks/suite.py``'s format, the fields the gallery reads) of
    ``(arm, task, seed, mean true return, run dir)`` runs."""
    tasks = {task: {"env_id": "", "steps": 512} for _, task, _, _, _ in runs}
    path.write_text(json.dumps({"benchmark": "suite", "tasks": tasks, "runs": [
        {"job": {"arm": arm, "task": task, "seed": seed}, "return_true": {"mean": ret, "std": 0.0, "episodes": 10},
         **({"run_dir": str(run_dir)} if run_dir is not None else {})}
        for arm, task, seed, ret, run_dir in runs]}))
    return path


def _fake_run(path: Path) -> Path:
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "checkpoints" / "latest.json").write_text(json.dumps({"round": 0, "dir": "round_000"}))
    return path


def test_best_runs_pick_each_tasks_highest_return_seed_whose_final_policy_remains(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.suite_results import best_runs, read_suite_results

    kept = [_fake_run(tmp_path / f"loop_s{k}") for k in range(3)]
    (tmp_path / "bare").mkdir()
    results = read_suite_results(_suite_results(tmp_path / "suite.json", [
        ("loop", "reacher_smooth", 0, 5.0, kept[0]), ("loop", "reacher_smooth", 1, 9.0, kept[1]),
        ("loop", "reacher_smooth", 2, -3.0, kept[2]), ("ppo", "reacher_smooth", 0, 50.0, kept[0]),
        ("loop", "hopper_backflip", 0, 7.0, tmp_path / "gone"), ("loop", "hopper_backflip", 1, 1.0, kept[2]),
        ("loop", "hopper_backflip", 2, 9.0, None),
        ("loop", "ant_tiptoe", 0, 3.0, tmp_path / "bare"), ("ppo", "cheetah_oneleg", 0, 3.0, kept[0]),
    ]))
    best, skipped = best_runs(results, "loop")
    assert [(b.task, b.seed, b.return_true, b.run_dir, b.passed_over) for b in best] == [
        ("reacher_smooth", 1, 9.0, kept[1], ()),  # the highest return of the arm; PPO's 50 is another arm
        ("hopper_backflip", 1, 1.0, kept[2], (2, 0)),  # seeds 2 (no run_dir recorded) and 0 (gone) passed over
    ]
    assert [s.task for s in skipped] == ["ant_tiptoe", "cheetah_oneleg"]
    assert "seed 0" in skipped[0].reason and "no config.json" in skipped[0].reason
    assert "no finished loop run" in skipped[1].reason
    best, skipped = best_runs(results, "ppo")
    assert [(b.task, b.seed) for b in best] == [("reacher_smooth", 0), ("cheetah_oneleg", 0)]


def test_the_calibration_results_are_read_as_the_ppo_arm_of_current_task_versions(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.suite_results import best_runs, read_suite_results

    kept = [_fake_run(tmp_path / f"ppo_s{k}") for k in range(3)]
    curve = [{"steps": 100, "return_true": 1.0, "success_rate": 0.0}]

    def run(task: str, env_id: str, seed: int, last: float, run_dir: Path | None, **extra: object) -> dict[str, object]:
        return {"task": task, "env_id": env_id, "seed": seed, "curve": [*curve, {**curve[0], "return_true": last}],
                **({"run_dir": str(run_dir)} if run_dir else {}), **extra}

    path = tmp_path / "suite_calibration.json"
    path.write_text(json.dumps({"benchmark": "suite_calibration", "runs": [
        run("hopper_backflip", "rlhf_robotics/HopperBackflip-v3", 0, 300.0, kept[0]),
        run("hopper_backflip", "rlhf_robotics/HopperBackflip-v3", 1, 900.0, kept[1]),
        run("hopper_backflip", "rlhf_robotics/HopperBackflip-v3", 2, 5000.0, None, finished=False),  # still running
        run("hopper_backflip", "rlhf_robotics/HopperBackflip-v1", 0, 9000.0, kept[2]),  # an earlier version
    ], "tasks": {"hopper_backflip": {"env_id": "rlhf_robotics/HopperBackflip-v3"},
                 "hopper_backflip (HopperBackflip-v1, superseded)": {"env_id": "rlhf_robotics/HopperBackflip-v1"}}}))
    results = read_suite_results(path)
    assert [(r["job"]["seed"], r["return_true"]["mean"]) for r in results["runs"]] == [(0, 300.0), (1, 900.0)]
    best, skipped = best_runs(results, "ppo")
    assert [(b.task, b.seed, b.run_dir) for b in best] == [("hopper_backflip", 1, kept[1])] and not skipped
    assert best_runs(results, "loop")[0] == []  # the calibration has no loop arm


@pytest.mark.render
def test_gallery_of_a_benchmark_shows_each_tasks_best_seed_and_lists_skipped_tasks(
        run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from rlhf_robotics.cli.main import entry

    seed0, seed1 = tmp_path / "loop_seed0", tmp_path / "loop_seed1"
    for copy in (seed0, seed1):
        shutil.copytree(run, copy)
    results = _suite_results(tmp_path / "suite.json", [
        ("loop", "reacher_smooth", 0, 5.0, seed0), ("loop", "reacher_smooth", 1, 9.0, seed1),
        ("loop", "hopper_backflip", 0, 7.0, tmp_path / "gone")])
    out = tmp_path / "g"
    assert entry(["gallery", f"out={out}", "seconds=0.2", "size=32", "fps=20", f"benchmark={results}"]) == 0
    summary = json.loads((out / "gallery.json").read_text())
    assert [(e["policy"], e["run_dir"]) for e in summary["runs"]] == [("learned", str(seed1)), ("random", str(seed1))]
    assert summary["benchmark"]["arm"] == "loop" and summary["benchmark"]["results"] == str(results)
    assert [(b["task"], b["seed"], b["run_dir"]) for b in summary["benchmark"]["best"]] == [
        ("reacher_smooth", 1, str(seed1))]
    (skipped,) = summary["benchmark"]["skipped"]
    assert skipped["task"] == "hopper_backflip" and f"run directory {tmp_path / 'gone'} is gone" in skipped["reason"]
    assert "skipped hopper_backflip: none of its 1 loop runs" in capsys.readouterr().out
    assert (out / "contact_sheet.png").is_file()


@pytest.mark.parametrize("case, expected", [
    ("both", "benchmark={results} and runs=['{run}']: give one of them"),
    ("missing", "benchmark={tmp}/none.json: no such file; run `python benchmarks/suite.py --jobs 2`"),
    ("not_suite", "benchmark={tmp}/other.json: not a results file of the suite benchmark"),
    ("arm", "arm='sac': allowed values are 'loop', 'ppo'"),
    ("nothing_left", "benchmark={results}: no task has a ppo run whose final policy remains (reacher_smooth: no "
                     "finished ppo run in the results); run `python benchmarks/suite.py --jobs 2`"),
])
def test_gallery_of_a_benchmark_refuses_what_it_cannot_show(case: str, expected: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from rlhf_robotics.cli.main import entry

    run = _fake_run(tmp_path / "run")
    results = _suite_results(tmp_path / "suite.json", [("loop", "reacher_smooth", 0, 1.0, run)])
    (tmp_path / "other.json").write_text(json.dumps({"benchmark": "label_efficiency", "runs": []}))
    args = {"both": [f"benchmark={results}", f"runs=[{run}]"], "missing": [f"benchmark={tmp_path / 'none.json'}"],
            "not_suite": [f"benchmark={tmp_path / 'other.json'}"], "arm": [f"benchmark={results}", "arm=sac"],
            "nothing_left": [f"benchmark={results}", "arm=ppo"]}[case]
    out = tmp_path / "g"
    assert entry(["gallery", f"out={out}", *args]) == 2
    assert expected.format(results=results, run=run, tmp=tmp_path) in capsys.readouterr().err
    assert not out.exists()  # refused before anything is written
