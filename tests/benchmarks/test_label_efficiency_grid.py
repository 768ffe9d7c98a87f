"""The label-efficiency grid: job names, filters, resumability (finished jobs skipped) and gathering results."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from bench_fakes import fake_run


def test_grid_has_every_cell_once(label_efficiency: ModuleType) -> None:
    jobs = label_efficiency.plan()
    assert len(jobs) == 165  # 5 seeds x 3 tasks x (v5: ppo + 3 loop; v4: ppo + 3 loop + 3 imitation)
    assert len({j.key for j in jobs}) == len(jobs)
    assert {j.arm for j in jobs if j.version == "v5"} == {"loop", "ppo"}
    assert {(j.labels, j.teacher) for j in jobs if j.arm == "imitation"} == {(200, "oracle"), (700, "oracle"), (700, "mistake")}
    assert [j.seed for j in jobs] == sorted(j.seed for j in jobs)  # seed-major: a partial grid has whole seeds
    for job in jobs:
        assert label_efficiency.find_job(job.key) == job


def test_only_filters_and_names_bad_values(label_efficiency: ModuleType) -> None:
    jobs = label_efficiency.plan()
    only = label_efficiency.parse_only(["env=HalfCheetah", "labels=700,none", "teacher=oracle,none", "seed=0,1", "version=v4"])
    picked = label_efficiency.select_jobs(jobs, only)
    assert {(j.arm, j.seed) for j in picked} == {(a, s) for a in ("loop", "ppo", "imitation") for s in (0, 1)}
    with pytest.raises(ValueError, match="field 'sed' is unknown"):
        label_efficiency.parse_only(["sed=0"])
    with pytest.raises(ValueError, match="not FIELD=VALUE"):
        label_efficiency.parse_only(["seed"])
    with pytest.raises(ValueError, match="env=Cheetah matches no job.*HalfCheetah"):
        label_efficiency.select_jobs(jobs, label_efficiency.parse_only(["env=Cheetah"]))


def test_finished_jobs_are_skipped_and_failed_ones_retried(label_efficiency: ModuleType, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = label_efficiency.select_jobs(label_efficiency.plan(), label_efficiency.parse_only(["env=Swimmer", "seed=0", "version=v5"]))
    done, failed = jobs[0], jobs[1]
    label_efficiency.result_path(done, tmp_path).write_text("{}")
    (tmp_path / f"{failed.key}.failed.json").write_text("{}")
    assert label_efficiency.job_state(done, tmp_path) == "done"
    assert label_efficiency.job_state(failed, tmp_path) == "failed"
    assert label_efficiency.job_state(jobs[2], tmp_path) == "pending"
    busy, stale = jobs[3], jobs[2]
    (tmp_path / f"{busy.key}.running").write_text(str(os.getpid()))  # held by a live process: left alone
    (tmp_path / f"{stale.key}.running").write_text("999999999")  # its process is gone: run again
    assert label_efficiency.job_state(busy, tmp_path) == "running"
    assert label_efficiency.job_state(stale, tmp_path) == "pending"
    launched: list[str] = []

    def fake_launch(job: object, steps: int, eval_episodes: int, work: Path, log: object = None) -> bool:
        launched.append(job.key)  # type: ignore[attr-defined]
        label_efficiency.result_path(job, work).write_text("{}")
        return True

    monkeypatch.setattr(label_efficiency, "launch", fake_launch)
    finished, n_failed = label_efficiency.run_all(jobs, 1000, 1, tmp_path, n_jobs=2)
    assert sorted(launched) == sorted(j.key for j in jobs if j not in (done, busy))
    assert (finished, n_failed) == (len(jobs) - 2, 0)
    (tmp_path / f"{busy.key}.running").unlink()
    launched.clear()
    assert label_efficiency.run_all(jobs, 1000, 1, tmp_path, n_jobs=2) == (1, 0)
    assert launched == [busy.key]
    launched.clear()
    assert label_efficiency.run_all(jobs, 1000, 1, tmp_path, n_jobs=2) == (0, 0)  # a rerun runs nothing
    assert launched == []


def test_a_raising_job_leaves_failed_json_and_no_result(label_efficiency: ModuleType, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    job = label_efficiency.find_job("loop_Hopper-v5_200_oracle_seed3")

    def boom(*args: object) -> dict[str, object]:
        raise RuntimeError("diverged")

    monkeypatch.setitem(label_efficiency.RUNNERS, "loop", boom)
    (tmp_path / job.key).mkdir(parents=True)
    (tmp_path / job.key / "partial.txt").write_text("left by a killed run")
    with pytest.raises(RuntimeError):
        label_efficiency.run_job(job, 1000, 1, tmp_path)
    assert not (tmp_path / f"{job.key}.running").exists()
    assert not (tmp_path / job.key / "partial.txt").exists()  # a partial run starts afresh
    assert label_efficiency.job_state(job, tmp_path) == "failed"
    assert "RuntimeError: diverged" in json.loads((tmp_path / f"{job.key}.failed.json").read_text())["error"]

    monkeypatch.setitem(label_efficiency.RUNNERS, "loop", lambda *a: {"return_true": {"mean": 1.0}, "wall_seconds": 2.0})
    path = label_efficiency.run_job(job, 1000, 1, tmp_path, command="python benchmarks/label_efficiency.py")
    assert label_efficiency.job_state(job, tmp_path) == "done"
    data = json.loads(path.read_text())
    assert data["key"] == job.key and data["command"] == "python benchmarks/label_efficiency.py" and "commit" in data


def test_collect_gathers_finished_results(label_efficiency: ModuleType, tmp_path: Path) -> None:
    work = tmp_path / "steps102400"
    work.mkdir()
    run = fake_run("ppo", "Swimmer-v5", None, None, 0, 40.0, 30.0)
    (work / f"{run['key']}.json").write_text(json.dumps(run))
    (work / "loop_Swimmer-v5_200_oracle_seed0.failed.json").write_text(json.dumps(
        {"job": {"arm": "loop", "env": "Swimmer", "version": "v5", "labels": 200, "teacher": "oracle", "seed": 0},
         "error": "RuntimeError: diverged"}))
    data = label_efficiency.collect(work, tmp_path / "out.json", "python benchmarks/label_efficiency.py --jobs 2")
    assert data["jobs_done"] == 1 and data["jobs_in_grid"] == 165 and len(data["jobs_remaining"]) == 164
    assert data["failed"] == [{"key": "loop_Swimmer-v5_200_oracle_seed0", "error": "RuntimeError: diverged"}]
    assert json.loads((tmp_path / "out.json").read_text())["runs"][0]["key"] == run["key"]
    assert data["steps"] == 102_400


def test_v4_loop_and_ppo_jobs_reuse_their_verified_v5_twin(label_efficiency: ModuleType, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = label_efficiency.select_jobs(label_efficiency.plan(), label_efficiency.parse_only(
        ["env=Swimmer", "seed=0", "labels=200,none", "teacher=oracle,none"]))
    launched: list[str] = []

    def fake_launch(job: object, steps: int, eval_episodes: int, work: Path, log: object = None) -> bool:
        launched.append(job.key)  # type: ignore[attr-defined]
        j = job  # type: ignore[assignment]
        run = fake_run(j.arm, j.env_id, j.labels, j.teacher, j.seed, 40.0 + len(launched), 30.0)  # type: ignore[attr-defined]
        label_efficiency.result_path(job, work).write_text(json.dumps(run))
        return True

    monkeypatch.setattr(label_efficiency, "launch", fake_launch)
    assert label_efficiency.run_all(jobs, 1000, 1, tmp_path, n_jobs=2) == (len(jobs), 0)
    # v5 loop and ppo and imitation's v4 job ran; the v4 loop and ppo jobs were derived, never launched
    assert sorted(launched) == sorted(j.key for j in jobs if not (j.version == "v4" and j.arm in ("loop", "ppo")))
    derived = json.loads((tmp_path / "loop_Swimmer-v4_200_oracle_seed0.json").read_text())
    twin = json.loads((tmp_path / "loop_Swimmer-v5_200_oracle_seed0.json").read_text())
    assert derived["same_computation_as"] == twin["key"] and derived["return_true"] == twin["return_true"]
    assert derived["env_id"] == "Swimmer-v4" and derived["job"]["version"] == "v4"
    assert derived["v4_v5_identity"]["identical"] and derived["v4_v5_identity"]["steps_compared"] >= 1000

    # tasks that stopped being identical are run for real
    for job in jobs:
        if job.version == "v4":
            label_efficiency.result_path(job, tmp_path).unlink()
    monkeypatch.setattr(label_efficiency, "v4_v5_identity",
                        lambda env: {"identical": False, "steps_compared": 1, "same_episode_limit": True})
    launched.clear()
    label_efficiency.run_all(jobs, 1000, 1, tmp_path, n_jobs=2)
    assert sorted(launched) == sorted(j.key for j in jobs if j.version == "v4")
