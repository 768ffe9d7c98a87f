"""``benchmarks/offpolicy_dmc.py`` (issue 12): the grid's jobs and order, PEBBLE's pre-training scaled to the budget,
and a grid continued on a fresh machine reusing the published runs instead of redoing them."""

from __future__ import annotations

import json
from pathlib import Path

from bench_scripts import load_script


def test_walker_first_and_pretraining_a_quarter_of_the_run() -> None:
    grid = load_script("offpolicy_dmc")
    jobs = grid.plan()
    assert len(jobs) == 36 and [j.task for j in jobs[:18]] == ["walker_walk"] * 18
    assert grid.pretrain_steps(40_000) == 9_000 and grid.pretrain_steps(20_000) == 4_000  # + 1,000 seed steps = 1/4


def test_a_fresh_work_folder_starts_from_the_published_runs(tmp_path: Path) -> None:
    grid = load_script("offpolicy_dmc")
    published = tmp_path / "offpolicy_dmc.json"
    runs = [{"job": "sac_walker_walk_seed0", "steps": 20000, "return_true": 50.0},
            {"job": "sac_walker_walk_seed1", "steps": 40000, "return_true": 90.0}]
    published.write_text(json.dumps({"runs": runs}))
    work = tmp_path / "work"
    work.mkdir()
    assert grid.seed_from_published(work, published, 20000) == 1  # only the run at this budget
    assert json.loads((work / "sac_walker_walk_seed0.json").read_text())["return_true"] == 50.0
    assert grid.seed_from_published(work, published, 20000) == 0  # never overwrites a job file
    assert grid.seed_from_published(work, tmp_path / "missing.json", 20000) == 0


def test_collect_names_the_finished_jobs_timed_alone(tmp_path: Path) -> None:
    grid = load_script("offpolicy_dmc")
    work = tmp_path / "work"
    work.mkdir()
    for job in ("sac_cheetah_run_seed1", "sac_cheetah_run_seed0", "sac_walker_walk_seed1"):
        (work / f"{job}.json").write_text(json.dumps({"job": job, "steps": 20000}))
    data = grid.collect(work, tmp_path / "out.json", timed_alone=["task=cheetah_run", "seed=1,2"])
    assert data["timed_alone"] == ["sac_cheetah_run_seed1"]  # seed 2 has not run; walker and seed 0 were not alone
    assert "timed_alone" not in grid.collect(work, tmp_path / "out.json")  # not given: every timing is reported
