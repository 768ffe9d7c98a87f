"""``benchmarks/suite_calibration.py`` (issue 15): the calibrated budget from learning curves of verifier success
(hand-made curves), and a tiny run that evaluates along the way, resumes and reaches RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from bench_scripts import load_script

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def calibration() -> ModuleType:
    return load_script("suite_calibration")


def _run(seed: int, rates: list[float | None], task: str = "hopper_backflip") -> dict[str, Any]:
    curve = [{"steps": 100_000 * (i + 1), "success_rate": r, "return_true": 10.0 * i} for i, r in enumerate(rates)]
    return {"task": task, "env_id": f"rlhf_robotics/{task}", "seed": seed, "curve": curve}


def test_budget_is_the_first_checkpoint_where_three_of_five_seeds_pass(calibration: ModuleType) -> None:
    runs = [_run(0, [0.0, 0.5, 0.6]), _run(1, [0.1, 0.4, 0.9]), _run(2, [0.0, 0.8, 0.2]),
            _run(3, [0.0, 0.0, 0.7]), _run(4, [0.0, 0.0, 0.0])]
    row = calibration.task_table(runs)["hopper_backflip"]
    # checkpoint 1: nobody; 2: seeds 0 and 2 (0.4 < 0.5 does not pass); 3: seeds 0, 1, 3
    assert row["passing_seeds_at"] == {100_000: 0, 200_000: 2, 300_000: 3}
    assert row["calibrated_budget"] == 300_000 and row["best_passing_seeds"] == 3
    assert row["first_pass_by_seed"] == {0: 200_000, 1: 300_000, 2: 200_000, 3: 300_000, 4: None}
    assert row["final_success_rate_by_seed"] == [0.6, 0.9, 0.2, 0.7, 0.0]


def test_sustained_budget_is_where_three_pass_at_every_later_checkpoint_every_seed_reached(
        calibration: ModuleType) -> None:
    # passing seeds by checkpoint: 3, 2, 3, 4 — the first 3 is a spike, 3 or more hold from the third checkpoint
    runs = [_run(0, [0.5, 0.5, 0.5, 0.5]), _run(1, [0.5, 0.4, 0.6, 0.6]), _run(2, [0.9, 0.9, 0.2, 0.8]),
            _run(3, [0.0, 0.0, 0.7, 0.7]), _run(4, [0.0, 0.0, 0.0, 0.0, 0.9, 0.9])]
    row = calibration.task_table(runs)["hopper_backflip"]
    assert row["calibrated_budget"] == 100_000
    assert row["sustained_from"] == 300_000 and row["sustained_checkpoints"] == 2  # seed 4's later points: not shared
    runs[0], runs[1] = _run(0, [0.5, 0.5, 0.5, 0.0]), _run(1, [0.5, 0.4, 0.6, 0.1])  # the last shared checkpoint: 2 pass
    assert calibration.task_table(runs)["hopper_backflip"]["passing_seeds_at"][400_000] == 2
    assert calibration.task_table(runs)["hopper_backflip"]["sustained_from"] is None  # nothing holds to the end
    assert calibration.task_table(runs[:4])["hopper_backflip"]["sustained_from"] is None  # 4 seeds: no budget at all
    text = "\n".join(load_script("make_results").suite_calibration_section(
        {"tasks": {"hopper_backflip": row}, "runs": [{**r, "eval_every": 100_000, "eval_episodes": 10} for r in runs],
         "pass_rate": 0.5, "pass_seeds": 3, "seeds_for_a_budget": 5}))
    assert "| 100,000 | 300,000 (2 checkpoints to 400,000) |" in text


def test_no_budget_with_fewer_than_five_seeds_or_without_a_verifier(calibration: ModuleType) -> None:
    four = calibration.task_table([_run(s, [1.0, 1.0]) for s in range(4)])["hopper_backflip"]
    assert four["best_passing_seeds"] == 4 and four["calibrated_budget"] is None  # 4 of 4 is not "3 of 5"
    assert four["budget_at_most"] == 100_000  # but 3 passing there stay 3 of 5 whatever seeds 4-5 do
    none = calibration.task_table([_run(s, [None, None]) for s in range(5)])["hopper_backflip"]
    assert none["best_passing_seeds"] == 0 and none["calibrated_budget"] is None  # no verifier never passes


def test_budget_counts_each_curve_only_as_far_as_every_seed_has_got(calibration: ModuleType) -> None:
    # seed 0 ran to 4 checkpoints, the others to 2: three pass at checkpoint 2, which every seed has reached
    runs = [_run(0, [0.0, 0.9, 1.0, 1.0]), _run(1, [0.0, 0.6]), _run(2, [0.0, 0.5]), _run(3, [0.0, 0.0]),
            _run(4, [0.0, 0.0])]
    assert calibration.task_table(runs)["hopper_backflip"]["calibrated_budget"] == 200_000
    # three pass only at checkpoint 3, which seeds 1-4 have not reached: one of them might still pass earlier
    late = [_run(0, [0.0, 0.0, 1.0]), _run(1, [0.0, 0.0, 1.0]), _run(2, [0.0, 0.0, 1.0]), _run(3, [0.0, 0.0]),
            _run(4, [0.0, 0.0])]
    row = calibration.task_table(late)["hopper_backflip"]
    assert row["passing_seeds_at"][300_000] == 3 and row["calibrated_budget"] is None
    text = "\n".join(load_script("make_results").suite_calibration_section(
        {"tasks": {"hopper_backflip": row}, "runs": [{**r, "eval_every": 100_000, "eval_episodes": 10} for r in late],
         "pass_rate": 0.5, "pass_seeds": 3, "seeds_for_a_budget": 5}))
    assert "none within 200,000 steps" in text


def test_collect_takes_the_longest_curve_of_each_job_across_ceilings(calibration: ModuleType, tmp_path: Path) -> None:
    now = calibration.current_env_id("hopper_backflip")
    short, long_ = tmp_path / "max200000_every100000", tmp_path / "max400000_every100000"
    for folder, seeds, rates in ((short, range(5), [0.0, 1.0]), (long_, [0], [0.0, 0.0, 0.0, 1.0])):
        folder.mkdir()
        for seed in seeds:
            run = {**_run(seed, rates), "env_id": now, "key": f"ppo_hopper_backflip_seed{seed}", "max_steps": 100_000 * len(rates)}
            (folder / f"{run['key']}.json").write_text(json.dumps(run))
    data = calibration.collect([short, long_], tmp_path / "out.json")
    row = data["tasks"]["hopper_backflip"]
    assert row["seeds"] == [0, 1, 2, 3, 4] and row["last_checkpoint_by_seed"] == [400_000] + [200_000] * 4
    assert row["calibrated_budget"] == 200_000  # seeds 1-4 pass at 200 k; seed 0's longer curve replaced its short one
    job = calibration.Job("hopper_backflip", 0)
    assert calibration.job_state(job, tmp_path / "max300000_every100000", 300_000) == f"done (in {long_.name})"
    assert calibration.job_state(job, tmp_path / "max800000_every100000", 800_000) == "pending"


def test_pass_rate_matches_the_suite_benchmark(calibration: ModuleType) -> None:
    assert calibration.PASS_RATE == load_script("make_results").SUITE_PASS


def test_unknown_task_is_refused_with_the_choices() -> None:
    r = subprocess.run([sys.executable, str(BENCHMARKS / "suite_calibration.py"), "--tasks", "hopper_backfilp", "--list"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "hopper_backfilp" in r.stderr and "hopper_backflip" in r.stderr


def test_tiny_run_evaluates_along_the_way_resumes_and_reaches_results(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "suite_calibration.json"
    cmd = [sys.executable, str(BENCHMARKS / "suite_calibration.py"), "--max-steps", "1024", "--eval-every", "1024",
           "--eval-episodes", "2", "--tasks", "reacher_smooth", "--seeds", "0", "--jobs", "1", "--work", str(work),
           "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 of 1 jobs to run" in first.stdout
    data = json.loads(out.read_text())
    (run,) = data["runs"]
    # n_envs=4 x n_steps=512: one rollout is 2,048 steps, so learn(1024) runs 2,048 and evaluates at 1,024 and 2,048
    assert [p["steps"] for p in run["curve"]] == [1024, 2048]
    assert all(p["episodes"] == 2 and 0 <= p["success_rate"] <= 1 for p in run["curve"])
    assert not (work / "ppo_reacher_smooth_seed0.partial.json").exists() and out.with_suffix(".png").exists()
    from rlhf_robotics.robotics.gallery import policy_act

    act, make_env, _, _ = policy_act(Path(run["run_dir"]))  # the final policy is kept and loads
    assert act(np.zeros(make_env().observation_space.shape)).shape == (2,)
    assert data["tasks"]["reacher_smooth"]["calibrated_budget"] is None  # one seed cannot calibrate
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert "0 of 1 jobs to run" in again.stdout  # finished jobs are skipped
    results = tmp_path / "RESULTS.md"
    # --suite names a file that does not exist; the calibration results are read beside it
    subprocess.run([sys.executable, str(BENCHMARKS / "make_results.py"), "--suite", str(tmp_path / "suite.json"),
                    "--out", str(results), "--label-efficiency", str(tmp_path / "none.json")],
                   check=True, timeout=120)
    text = results.read_text()
    assert "## Calibrating the suite" in text and "| reacher_smooth | 0 |" in text
    assert "not yet (fewer seeds than needed)" in text


def test_a_result_of_an_earlier_task_version_is_set_aside_and_kept_as_its_own_row(calibration: ModuleType,
                                                                                 tmp_path: Path) -> None:
    job = calibration.Job("hopper_backflip", 0)
    now = calibration.current_env_id("hopper_backflip")
    old = {**_run(0, [0.0, 1.0]), "env_id": now.rsplit("-", 1)[0] + "-v1", "key": job.key}
    (tmp_path / f"{job.key}.json").write_text(json.dumps(old))
    assert calibration.job_state(job, tmp_path).startswith("superseded")
    calibration.set_aside(tmp_path / f"{job.key}.json")
    assert calibration.job_state(job, tmp_path) == "pending" and (tmp_path / "superseded" / f"{job.key}_v1.json").exists()
    (tmp_path / f"{job.key}.json").write_text(json.dumps({**_run(0, [0.0, 0.0]), "env_id": now, "key": job.key}))
    data = calibration.collect(tmp_path, tmp_path / "out.json")
    assert list(data["tasks"]) == ["hopper_backflip", "hopper_backflip (HopperBackflip-v1, superseded)"]
    assert data["tasks"]["hopper_backflip (HopperBackflip-v1, superseded)"]["best_passing_seeds"] == 1
    assert data["tasks"]["hopper_backflip"]["best_passing_seeds"] == 0


def test_a_stopped_job_shows_its_curve_so_far_and_counts_only_as_far_as_it_got(calibration: ModuleType,
                                                                               tmp_path: Path) -> None:
    for seed in range(5):
        run = {**_run(seed, [0.0, 1.0]), "env_id": calibration.current_env_id("hopper_backflip"),
               "key": f"ppo_hopper_backflip_seed{seed}", "eval_every": 100_000, "eval_episodes": 10}
        if seed == 4:  # still running: only its partial file
            (tmp_path / f"{run['key']}.partial.json").write_text(
                json.dumps({"key": run["key"], "env_id": run["env_id"], "curve": run["curve"][:1]}))
        else:
            (tmp_path / f"{run['key']}.json").write_text(json.dumps(run))
    data = calibration.collect(tmp_path, tmp_path.parent / f"{tmp_path.name}_out.json")
    row = data["tasks"]["hopper_backflip"]
    assert row["seeds"] == [0, 1, 2, 3, 4] and row["unfinished_seeds"] == [4] and row["last_checkpoint_by_seed"][4] == 100_000
    assert row["best_passing_seeds"] == 4 and row["calibrated_budget"] is None  # 4 pass, but seed 4 has not finished
    text = "\n".join(load_script("make_results").suite_calibration_section(data))
    assert "4 (unfinished: to 100,000 steps)" in text and "not yet (runs unfinished)" in text


def test_a_stopped_job_of_an_earlier_task_version_is_not_shown_as_the_current_one(calibration: ModuleType,
                                                                                  tmp_path: Path) -> None:
    now = calibration.current_env_id("hopper_backflip")
    curve = _run(3, [1.0])["curve"]
    for key, env_id in (("ppo_hopper_backflip_seed3", now.rsplit("-", 1)[0] + "-v1"), ("ppo_hopper_backflip_seed4", None),
                        ("ppo_hopper_backflip_seed2", now)):
        record = {"key": key, "curve": curve} if env_id is None else {"key": key, "env_id": env_id, "curve": curve}
        (tmp_path / f"{key}.partial.json").write_text(json.dumps(record))
    assert [(r["seed"], r["env_id"]) for r in calibration.unfinished(tmp_path)] == [(2, now)]


def test_a_fresh_clone_continues_from_the_published_runs_and_collect_keeps_them(calibration: ModuleType,
                                                                                tmp_path: Path) -> None:
    """The work folders are git-ignored: on a fresh clone the published runs are written back (an earlier version's
    into ``superseded/``), so the next collect keeps every published row instead of dropping them."""
    now = calibration.current_env_id("hopper_backflip")
    runs = [{**_run(s, [0.0, 1.0]), "env_id": now, "key": f"ppo_hopper_backflip_seed{s}", "max_steps": 200_000,
             "eval_every": 100_000, "date": "d1"} for s in range(5)]
    old = {**runs[0], "env_id": now.rsplit("-", 1)[0] + "-v1", "max_steps": 400_000, "date": "d0"}
    published = tmp_path / "published.json"
    published.write_text(json.dumps({"runs": [*runs, old, {**runs[1], "eval_every": 50_000}]}))
    work = tmp_path / "work"
    assert calibration.restore_published(work, published) == 6  # the other evaluation interval stays out
    assert calibration.restore_published(work, published) == 0  # never twice, never over a job file
    assert (work / "max400000_every100000" / "superseded" / "ppo_hopper_backflip_seed0_v1.json").exists()
    data = calibration.collect(sorted(work.glob("max*_every100000")), tmp_path / "out.json")
    assert list(data["tasks"]) == ["hopper_backflip", "hopper_backflip (HopperBackflip-v1, superseded)"]
    assert data["tasks"]["hopper_backflip"]["calibrated_budget"] == 200_000
    assert calibration.job_state(calibration.Job("hopper_backflip", 2), work / "max200000_every100000", 200_000) == "done"


def test_a_published_unfinished_curve_survives_a_fresh_clone(calibration: ModuleType, tmp_path: Path) -> None:
    """A job stopped part-way is published marked unfinished and without a ceiling; a fresh clone puts it back as a
    partial curve, so the next collect still shows it and counts it as far as it got, instead of dropping it."""
    now = calibration.current_env_id("hopper_backflip")
    runs = [{**_run(s, [0.0, 1.0]), "env_id": now, "key": f"ppo_hopper_backflip_seed{s}", "max_steps": 200_000,
             "eval_every": 100_000} for s in range(4)]
    stopped = {"key": "ppo_hopper_backflip_seed4", "task": "hopper_backflip", "env_id": now, "seed": 4,
               "ppo": calibration.current_ppo("hopper_backflip"), "finished": False,
               "curve": _run(4, [0.0, 1.0, 1.0])["curve"]}
    published = tmp_path / "published.json"
    published.write_text(json.dumps({"runs": [*runs, stopped]}))
    work = tmp_path / "work"
    assert calibration.restore_published(work, published) == 5
    assert calibration.restore_published(work, published) == 0
    data = calibration.collect(sorted(work.glob("max*_every100000")), tmp_path / "out.json")
    row = data["tasks"]["hopper_backflip"]
    assert row["seeds"] == [0, 1, 2, 3, 4] and row["unfinished_seeds"] == [4]
    assert row["calibrated_budget"] == 200_000  # 5 seeds reach 200,000 steps, 5 pass there
    assert [r for r in data["runs"] if r["seed"] == 4][0]["curve"] == stopped["curve"]


def test_extend_continues_a_shorter_run_from_its_final_checkpoint(tmp_path: Path) -> None:
    base = [sys.executable, str(BENCHMARKS / "suite_calibration.py"), "--eval-every", "1024", "--eval-episodes", "2",
            "--tasks", "reacher_smooth", "--seeds", "0", "--jobs", "1", "--out", str(tmp_path / "out.json")]
    short, long_ = tmp_path / "max1024_every1024", tmp_path / "max4096_every1024"
    first = subprocess.run(base + ["--max-steps", "1024", "--work", str(short)], capture_output=True, text=True,
                           timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    listed = subprocess.run(base + ["--max-steps", "4096", "--work", str(long_), "--extend", "--list"],
                            capture_output=True, text=True, timeout=120)
    assert "pending" in listed.stdout and f"(extends {short.name})" in listed.stdout
    second = subprocess.run(base + ["--max-steps", "4096", "--work", str(long_), "--extend"], capture_output=True,
                            text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    before = json.loads((short / "ppo_reacher_smooth_seed0.json").read_text())
    after = json.loads((long_ / "ppo_reacher_smooth_seed0.json").read_text())
    # the short run learned one 2,048-step rollout; the continuation adds one more and evaluates on the way
    assert [p["steps"] for p in after["curve"]] == [1024, 2048, 3072, 4096]
    assert after["curve"][:2] == before["curve"] and after["extended_from"]["steps"] == 2048
    assert after["extended_from"]["result"].endswith("max1024_every1024/ppo_reacher_smooth_seed0.json")
    state = json.loads((long_ / "ppo_reacher_smooth_seed0" / "checkpoints" / "round_000" / "state.json").read_text())
    assert state["num_timesteps"] == 4096  # the step count went on from the short run's, not from 0
    plain = subprocess.run(base + ["--max-steps", "8192", "--work", str(tmp_path / "max8192_every1024"), "--list"],
                           capture_output=True, text=True, timeout=120)
    assert "pending" in plain.stdout and "extends" not in plain.stdout  # without --extend a job starts afresh
    # a folder whose policy is no longer the result's own (here: another task version's run wrote it) is not continued
    for folder in (short, long_):
        config = folder / "ppo_reacher_smooth_seed0" / "config.json"
        config.write_text(config.read_text().replace("ReacherSmooth-v3", "ReacherSmooth-v2"))
    other = subprocess.run(base + ["--max-steps", "8192", "--work", str(tmp_path / "max8192_every1024"), "--extend",
                                   "--list"], capture_output=True, text=True, timeout=120)
    assert "pending" in other.stdout and "extends" not in other.stdout
