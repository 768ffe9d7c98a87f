"""``benchmarks/label_scaling.py`` (issue 13): the grid (default curve, PPO, the technique screen, wrong labels), each
job's settings, the tables it reports, and a tiny-budget run of two jobs through to the RESULTS.md section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import BENCHMARKS
from bench_scripts import load_script as _load


@pytest.fixture(scope="module")
def ls() -> ModuleType:
    return _load("label_scaling")


def test_the_grid_asks_the_issues_questions(ls: ModuleType) -> None:
    jobs = ls.plan()
    default = {(j.task, j.labels) for j in jobs if j.arm == "default" and j.teacher == "oracle"}
    assert default == {(t, n) for t in ("HalfCheetah-v5", "Hopper-v5", "Swimmer-v5", "Ant-v5") for n in (25, 50, 100, 200, 700)}
    screen = {(j.arm, j.task, j.labels) for j in jobs if j.arm in ls.TECHNIQUES}
    assert {a for a, _, _ in screen} >= {"surf", "rime", "rune", "reed", "kcenter", "qpa", "stop97", "crop"}
    assert {(t, n) for _, t, n in screen if _ != "rime"} == {("Hopper-v5", 50), ("Hopper-v5", 200)}
    robust = {(j.arm, j.teacher) for j in jobs if j.teacher in ("mistake20", "mistake30")}
    assert robust == {(a, t) for a in ("default", "rime") for t in ("mistake20", "mistake30")}
    assert all(len({j.seed for j in jobs if (j.arm, j.task) == key}) == 5 for key in {(j.arm, j.task) for j in jobs})
    assert len({j.key for j in jobs}) == len(jobs)
    assert not [j for j in jobs if j.arm == "best"] and [j for j in ls.plan(best=True) if j.seed in ls.HELD_OUT_SEEDS]
    assert {j.key for j in ls.select(jobs, ["arm=ppo", "task=Ant-v5"])} == {f"ppo_Ant-v5_na_na_seed{s}" for s in range(5)}
    with pytest.raises(SystemExit, match="expected arm="):
        ls.select(jobs, ["budget=3"])


def test_each_job_runs_its_task_teacher_and_technique(ls: ModuleType, tmp_path: Path) -> None:
    c = ls.experiment_config(ls.Job("rime", "Hopper-v5", 700, "mistake30", 3), 1000, tmp_path)
    assert c.env.kwargs == {"terminate_when_unhealthy": False} and c.env.reference_return == 2410.435
    assert c.teacher.overrides == {"mistake": 0.3} and c.reward_model.techniques.rime.enabled
    assert (c.labels.total, c.seed, c.total_steps) == (700, 3, 1000)
    q = ls.experiment_config(ls.Job("qpa", "Hopper-v5", 50, "oracle", 0), 1000, tmp_path)
    assert (q.selection.name, q.selection.recent_steps, q.teacher.overrides) == ("disagreement", 20480, {})
    d = ls.experiment_config(ls.Job("default", "Ant-v5", 25, "oracle", 0), 1000, tmp_path)
    assert not d.reward_model.techniques.rime.enabled and d.env.reference_return == 1327.158
    b = ls.experiment_config(ls.Job("best", "Swimmer-v5", 100, "oracle", 5), 1000, tmp_path)  # the screen's pick
    assert (b.reward_model.techniques.stop_accuracy, b.selection.name) == (0.97, "kcenter_disagreement")
    assert d.reward_model.techniques.stop_accuracy is None and d.selection.name != "kcenter_disagreement"
    # every arm starts from the synchronous refit the grid began with, whatever the package's default is now
    assert (d.reward_model.async_training, d.reward_model.async_relabel, d.reward_model.refit_worker) == (False, False, "thread")
    r = ls.experiment_config(ls.Job("relabel_refit", "Ant-v5", 100, "oracle", 5), 1000, tmp_path).reward_model
    assert (r.async_training, r.async_relabel, r.async_install_steps, r.refit_worker, r.techniques.stop_accuracy) == (
        True, True, 0, "process", 0.97)
    late = ls.experiment_config(ls.Job("cheap_refit", "Ant-v5", 100, "oracle", 5), 1000, tmp_path).reward_model
    assert (late.async_training, late.async_relabel, late.async_install_steps) == (True, False, None)


def test_tables_give_fractions_of_the_same_seeds_ppo_and_scores(ls: ModuleType) -> None:
    mr = _load("make_results")
    runs = [{"arm": "ppo", "task": "Hopper-v5", "labels": None, "teacher": None, "seed": s, "return_true": {"mean": 1000.0 * (s + 1)}}
            for s in (0, 1)]
    runs += [{"arm": "default", "task": "Hopper-v5", "labels": 50, "teacher": "oracle", "seed": s,
              "return_true": {"mean": 500.0 * (s + 1)}, "score_vs_reference": 0.25 * (s + 1)} for s in (0, 1)]
    runs.append({"arm": "rime", "task": "Hopper-v5", "labels": 700, "teacher": "mistake30", "seed": 0,
                 "return_true": {"mean": 800.0}, "score_vs_reference": 0.3})
    table = ls.scaling_table({"runs": runs})
    assert table["default"]["Hopper-v5"][50] == {"fraction": [0.5, 0.5], "score": [0.25, 0.5]}
    assert table["rime (mistake30)"]["Hopper-v5"][700]["fraction"] == [0.8]
    section = "\n".join(mr.label_scaling_section({"runs": runs, "tasks": ["Hopper-v5"], "jobs_done": 5}))
    assert "### Hopper-v5" in section and "| rime (mistake30) |" in section and "(n=2)" in section


@pytest.mark.slow
def test_two_tiny_jobs_resume_and_reach_the_results_section(ls: ModuleType, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "label_scaling.json"
    cmd = [sys.executable, str(BENCHMARKS / "label_scaling.py"), "--steps", "2048", "--eval-episodes", "1", "--jobs", "2",
           "--work", str(work), "--out", str(out), "--only", "arm=ppo,default", "task=Swimmer-v5", "labels=25,none", "seed=0"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 of 2 jobs to run" in first.stdout
    data = json.loads(out.read_text())
    assert {r["arm"] for r in data["runs"]} == {"ppo", "default"} and out.with_suffix(".png").stat().st_size > 0
    loop = next(r for r in data["runs"] if r["arm"] == "default")
    assert loop["labels_used"] == 25 and loop["reference_return"] == 281.561 and loop["score_vs_reference"] is not None
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "0 of 2 jobs to run" in again.stdout  # finished jobs are kept
    section = "\n".join(_load("make_results").label_scaling_section(data))
    assert "### Swimmer-v5" in section and "| default |" in section


def test_a_fresh_work_folder_starts_from_the_published_runs(ls: ModuleType, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    published, work = tmp_path / "label_scaling.json", tmp_path / "work"
    runs = [{"job": "ppo_Hopper-v5_na_na_seed0", "steps": 204800, "return_true": {"mean": 1312.1}},
            {"job": "ppo_Hopper-v5_na_na_seed1", "steps": 1024, "return_true": {"mean": 5.0}}]
    published.write_text(json.dumps({"runs": runs}))
    assert ls.main(["--list", "--only", "arm=ppo", "task=Hopper-v5", "seed=0,1", "--work", str(work), "--out", str(published)]) == 0
    out = capsys.readouterr().out
    assert "1 finished jobs taken from" in out  # only the run at this budget
    assert "done     ppo_Hopper-v5_na_na_seed0" in out and "pending  ppo_Hopper-v5_na_na_seed1" in out


def test_held_out_seeds_are_their_own_rows_and_tasks_pool(ls: ModuleType) -> None:
    runs = [{"arm": "ppo", "task": t, "labels": None, "teacher": None, "seed": s, "return_true": {"mean": 1000.0}}
            for t in ("Hopper-v5", "Swimmer-v5") for s in (0, 5)]
    runs += [{"arm": "default", "task": t, "labels": 100, "teacher": "oracle", "seed": s,
              "return_true": {"mean": 100.0 * (s + 1) * (2 if t == "Swimmer-v5" else 1)}, "score_vs_reference": 0.1}
             for t in ("Hopper-v5", "Swimmer-v5") for s in (0, 5)]
    runs.append({"arm": "kcenter", "task": "Hopper-v5", "labels": 100, "teacher": "oracle", "seed": 0,
                 "return_true": {"mean": 500.0}, "score_vs_reference": 0.2})
    data = {"runs": runs, "tasks": ["Hopper-v5", "Swimmer-v5"], "best": ["selection.name=kcenter_disagreement"]}
    table = ls.scaling_table(data)
    assert table["default"]["Hopper-v5"][100]["fraction"] == [0.1]  # seed 5 is not mixed in …
    assert table["default (held-out seeds)"]["Hopper-v5"][100]["fraction"] == [0.6]  # … it has its own row
    pooled = ls.across_tasks(data)
    assert pooled["default"][100]["fraction"] == [0.1, 0.2] and pooled["default"][100]["tasks"] == ["Hopper-v5", "Swimmer-v5"]
    text = "\n".join(_load("make_results").label_scaling_section(data))
    assert "| default | 0.15" in text and "| default (held-out seeds) | 0.90" in text
    assert "| kcenter | 0.50" in text.split("### Hopper-v5")[1] and "| kcenter |" not in text.split("### Hopper-v5")[0]
    assert "`selection.name=kcenter_disagreement`" in text


def test_held_out_check_pairs_best_with_default_by_task_and_seed(ls: ModuleType) -> None:
    mr = _load("make_results")
    tasks = ("Hopper-v5", "Swimmer-v5")

    def run(arm: str, t: str, s: int, ret: float, score: float | None = None, labels: int | None = 100) -> dict:
        return {"arm": arm, "task": t, "labels": labels, "teacher": None if arm == "ppo" else "oracle", "seed": s,
                "return_true": {"mean": ret}, "score_vs_reference": score}

    runs = [run("ppo", t, s, 1000.0, labels=None) for t in tasks for s in (5, 6)]
    runs += [run("default", t, s, 500.0, 0.5) for t in tasks for s in (5, 6)]
    runs += [run("best", t, s, 700.0, 0.7) for t in tasks for s in (5, 6)]
    runs += [run("best", "Hopper-v5", 0, 10.0, 0.0), run("best", "Hopper-v5", 7, 10.0, 0.0)]  # not held out; no pair
    pairs = ls.held_out_pairs({"runs": runs})
    assert pairs["pairs"] == ["Hopper-v5/5", "Hopper-v5/6", "Swimmer-v5/5", "Swimmer-v5/6"]
    assert pairs["fraction"] == pytest.approx([0.2] * 4) and pairs["score"] == pytest.approx([0.2] * 4)
    text = " ".join(mr.held_out_verdict(pairs, n_tasks=2))
    assert "4 of 10 (task, seed) pairs so far" in text and "`best` scores higher on 4 of 4 pairs" in text
    assert "Verdict: `best` beats `default` on the held-out seeds." in text
    worse = {**pairs, "score": [-0.1, 0.2, -0.3, 0.05]}
    assert "does not beat `default` on the held-out seeds so far, so the default is unchanged" in " ".join(
        mr.held_out_verdict(worse, n_tasks=2))


def test_cheap_refit_runs_on_held_out_seeds_and_is_judged_by_a_margin(ls: ModuleType) -> None:
    mr = _load("make_results")
    jobs = [j for j in ls.plan(best=True) if j.arm == "cheap_refit"]
    assert {(j.labels, j.teacher) for j in jobs} == {(100, "oracle")}
    assert {j.seed for j in jobs} == set(ls.HELD_OUT_SEEDS) and {j.task for j in jobs} == set(ls.TASKS)
    assert ls.arm_settings("cheap_refit") == ls.CHEAP_REFIT
    config = ls.experiment_config(jobs[0], 2048, Path("/tmp/x"))
    rm = config.reward_model
    assert rm.async_training and rm.refit_worker == "process" and rm.techniques.stop_accuracy == 0.97

    def run(arm: str, s: int, score: float) -> dict:
        return {"arm": arm, "task": "Hopper-v5", "labels": 100, "teacher": "oracle", "seed": s,
                "return_true": {"mean": 100 * score}, "score_vs_reference": score}

    runs = [run("default", s, 0.5) for s in ls.HELD_OUT_SEEDS] + [run("best", 5, 0.9)]
    same = ls.held_out_pairs({"runs": runs + [run("cheap_refit", s, 0.5 + d) for s, d in
                                              zip(ls.HELD_OUT_SEEDS, (-0.02, 0.01, 0.0, -0.01, 0.02))]}, "cheap_refit")
    assert same["pairs"] == [f"Hopper-v5/{s}" for s in ls.HELD_OUT_SEEDS]  # the best arm's run is not paired
    text = " ".join(mr.held_out_verdict(same, 1, "cheap_refit", margin=0.1))
    assert "Verdict: `cheap_refit` is not worse than `default` on the held-out seeds (the score" in text
    worse = ls.held_out_pairs({"runs": runs + [run("cheap_refit", s, 0.3) for s in ls.HELD_OUT_SEEDS]}, "cheap_refit")
    text = " ".join(mr.held_out_verdict(worse, 1, "cheap_refit", margin=0.1))
    assert "reaches below −0.10), so the default is unchanged" in text


def test_relabel_refit_s_check_pools_seeds_5_to_14_and_no_other_arm_s_does(ls: ModuleType) -> None:
    mr = _load("make_results")
    more = [j for j in ls.plan(best=True) if j.seed in ls.MORE_HELD_OUT_SEEDS]
    assert {j.arm for j in more} == {"ppo", "default", "relabel_refit"} and {j.task for j in more} == set(ls.TASKS)
    assert {(j.labels, j.teacher) for j in more if j.arm != "ppo"} == {(100, "oracle")}
    assert len(more) == 3 * len(ls.TASKS) * len(ls.MORE_HELD_OUT_SEEDS)

    def run(arm: str, s: int, score: float) -> dict:
        return {"arm": arm, "task": "Hopper-v5", "labels": None if arm == "ppo" else 100,
                "teacher": None if arm == "ppo" else "oracle", "seed": s, "return_true": {"mean": 100 * score},
                "score_vs_reference": score}

    seeds = ls.HELD_OUT_SEEDS + ls.MORE_HELD_OUT_SEEDS
    runs = [run(arm, s, 0.5) for s in seeds for arm in ("ppo", "default", "best", "relabel_refit")]
    assert ls.held_out_pairs({"runs": runs}, "relabel_refit")["pairs"] == [f"Hopper-v5/{s}" for s in seeds]
    assert ls.held_out_pairs({"runs": runs}, "best")["pairs"] == [f"Hopper-v5/{s}" for s in ls.HELD_OUT_SEEDS]
    half = ls.held_out_pairs({"runs": [r for r in runs if r["seed"] < 10]}, "relabel_refit")
    text = " ".join(mr.held_out_verdict(half, 1, "relabel_refit", 0.1, ls.held_out_seeds("relabel_refit")))
    assert "(seeds 5–14, 100 oracle labels, 5 of 10 (task, seed) pairs so far)" in text
    data = {"runs": runs, "tasks": ["Hopper-v5"], "relabel_refit": list(ls.RELABEL_REFIT), "non_inferiority_margin": 0.1,
            "held_out_seeds": {"relabel_refit": list(seeds)}}
    section = "\n".join(mr.label_scaling_section(data))
    assert "Held-out check of `relabel_refit` (seeds 5–14, 100 oracle labels, 10 of 10 (task, seed) pairs)" in section
