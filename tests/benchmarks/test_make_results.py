"""RESULTS.md generation on a fixed fake results directory: tables, IQM and bootstrap intervals, provenance."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from bench_fakes import fake_run

from rlhf_robotics.robotics.sweep_stats import iqm


def fake_label_efficiency() -> dict[str, Any]:
    runs = []
    for seed in range(5):
        runs.append(fake_run("ppo", "HalfCheetah-v5", None, None, seed, 1000.0 + 100 * seed, 20.0))
        runs.append(fake_run("loop", "HalfCheetah-v5", 700, "oracle", seed, 1100.0 + 100 * seed, 25.0 + seed))
        runs.append(fake_run("loop", "HalfCheetah-v5", 200, "oracle", seed, 700.0 + 100 * seed, 22.0))
    for seed in range(2):
        runs.append(fake_run("ppo", "HalfCheetah-v4", None, None, seed, 900.0, 20.0))
        runs.append(fake_run("loop", "HalfCheetah-v4", 700, "oracle", seed, 1000.0 + seed, 30.0))
        runs.append(fake_run("imitation", "HalfCheetah-v4", 700, "oracle", seed, 500.0 + seed, 100.0))
    return {"benchmark": "label_efficiency", "full_grid_command": "python benchmarks/label_efficiency.py --jobs 2",
            "commands": ["python benchmarks/label_efficiency.py --only seed=0"], "steps": 102_400, "jobs_in_grid": 165,
            "jobs_done": len(runs), "jobs_remaining": ["x"] * (165 - len(runs)), "failed": [], "runs": runs,
            "commit": "fedcba9876543210", "machine": {"cpu": "Test CPU", "cores": 2, "platform": "Linux", "python": "3.11",
                                                     "torch": "2.13"}, "date": "2026-11-27T06:00:00+00:00"}


def fake_overhead() -> dict[str, Any]:
    reps = [{"seed": i, "ppo_seconds": 20.0, "wall_time_ratio": r, "phases": {}} for i, r in enumerate((1.2, 1.1, 1.3))]
    return {"benchmark": "overhead", "command": "python benchmarks/overhead.py", "env_id": "HalfCheetah-v5", "steps": 40960,
            "labels": 700, "refit": "async", "order": "alternating", "repetitions": reps,
            "phase_medians_seconds": {"rollouts_and_ppo_updates": 18.0, "reward_inference": 2.0, "loop_total": 24.0},
            "ppo_seconds_median": 20.0, "wall_time_ratio_median": 1.2, "commit": "fedcba9876543210",
            "machine": {"cpu": "Test CPU", "cores": 2}, "date": "2026-11-27T06:10:00+00:00"}


def _row(text: str, *starts: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("| " + " | ".join(starts) + " |"))


def test_tables_hold_iqm_fraction_and_wall_time(make_results: ModuleType) -> None:
    text = make_results.render(fake_label_efficiency(), [fake_overhead()])
    row = _row(text, "HalfCheetah-v5", "700", "oracle")
    ours = iqm(np.array([1100.0 + 100 * s for s in range(5)]))
    frac = iqm(np.array([(1100.0 + 100 * s) / (1000.0 + 100 * s) for s in range(5)]))
    assert f"| {ours:.0f} [" in row and f"| {frac:.2f} [" in row
    assert "≥ 100%: met" in row and "| 27 s | 20 s | 1.35× |" in row
    assert "≥ 80%: missed" in _row(text, "HalfCheetah-v5", "200", "oracle")
    imit = _row(text, "HalfCheetah-v4", "700", "oracle")
    assert "| 2, 2 |" in imit and "| 1.00 |" in imit and "| 1000 [1000, 1001] | 500 [500, 501] |" in imit and "0.30× (median over 2 seeds) | 0.33× | 0.20× |" in imit
    assert "Hopper" not in text  # tasks without runs get no rows
    # provenance, commands, remaining work and the overhead section
    assert "Commits of the runs: 0123456789;" in text and "Test CPU, 2 cores" in text and "Seeds present: 0, 1, 2, 3, 4" in text
    assert "jobs at a time: 1 (21 runs)" in text
    assert "`python benchmarks/label_efficiency.py --jobs 2 --only version=v5`" in text
    assert "Not yet run: 144 jobs" in text
    assert "median 1.20× (per repetition: 1.20, 1.10, 1.30)" in text
    assert "## Headline figures" in text and "ours 1000 vs imitation 500" in text


def test_before_and_after_a_method_change_compare_the_common_seeds(make_results: ModuleType) -> None:
    after = fake_label_efficiency()
    for r in after["runs"]:
        if r["job"]["arm"] == "loop":
            r["reward_model"] = {"ensemble_size": 3, "selection": "uniform", "async_training": False, "refit_epochs": 8,
                                 "input_statistics": "per_round", "hidden_sizes": [64, 64]}
    before = fake_label_efficiency()
    before["runs"] = [dict(r, return_true={"mean": 550.0 + r["job"]["seed"], "std": 1.0, "episodes": 10})
                      for r in before["runs"] if r["job"]["arm"] == "loop" and r["job"]["seed"] < 3]
    text = make_results.render(after, [], before)
    section = text.split("## Method change: before and after")[1].split("## ")[0]
    assert "Before: input statistics initial" in section and "After: input statistics per_round" in section
    row = _row(section, "HalfCheetah-v5", "700", "oracle")
    assert "| 0, 1, 2 | 550, 551, 552 | 1100, 1200, 1300 |" in row  # only the seeds both have
    frac_before = iqm(np.array([(550.0 + s) / (1000.0 + 100 * s) for s in range(3)]))
    assert f"| {frac_before:.2f} [" in row
    assert "Method change" not in make_results.render(after, [], None)


def test_held_out_seed_variants_get_their_own_table(make_results: ModuleType) -> None:
    screen = fake_label_efficiency()
    screen["runs"] = [dict(r, job=dict(r["job"], seed=r["job"]["seed"] + 5)) for r in screen["runs"]
                      if r["job"]["arm"] == "loop" and r["env_id"] == "HalfCheetah-v5" and r["job"]["labels"] == 700]
    text = make_results.render(None, [], None, [("disagreement", screen)])
    row = _row(text, "disagreement", "HalfCheetah-v5", "700", "oracle")
    assert "| 5, 6, 7, 8, 9 |" in row and "| 1100, 1200, 1300, 1400, 1500 |" in row
    assert f"| {iqm(np.array([1100.0, 1200, 1300, 1400, 1500])):.0f} [" in row
    assert "Investigation" not in make_results.render(None, [fake_overhead()])


def test_reused_v5_runs_are_named_and_left_out_of_the_cost_table(make_results: ModuleType) -> None:
    data = fake_label_efficiency()
    for r in data["runs"]:
        if r["env_id"] == "HalfCheetah-v4" and r["job"]["arm"] == "loop":
            r["same_computation_as"] = r["key"].replace("-v4", "-v5")
    text = make_results.render(data)
    assert "so 2 of our v4 loop and PPO results are their v5 twins' runs" in text
    cost = text.split("### Cost of each arm")[1]
    assert "| loop | HalfCheetah-v5 |" in cost and "| loop | HalfCheetah-v4 |" not in cost
    assert "| ppo | HalfCheetah-v4 | 2 |" in cost


def test_output_is_deterministic_and_written_by_main(make_results: ModuleType, tmp_path: Path) -> None:
    le, oh = tmp_path / "le.json", tmp_path / "oh.json"
    le.write_text(json.dumps(fake_label_efficiency()))
    oh.write_text(json.dumps(fake_overhead()))
    out = tmp_path / "RESULTS.md"
    args = ["--label-efficiency", str(le), "--overhead", str(oh), "--out", str(out), "--before", str(tmp_path / "none.json"),
            "--no-screens"]
    assert make_results.main(args) == 0
    first = out.read_text()
    make_results.main(args)
    assert out.read_text() == first  # same inputs, same file (fixed bootstrap generator, no timestamps)
    assert first.startswith("# Benchmark results") and "do not edit by hand" in first


def test_missing_inputs_are_named(make_results: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        make_results.main(["--label-efficiency", str(tmp_path / "no.json"), "--overhead", str(tmp_path / "none.json"),
                           "--out", str(tmp_path / "R.md")])
    only_overhead = make_results.render(None, [fake_overhead()])
    assert "## Overhead" in only_overhead and "## Label efficiency" not in only_overhead


def test_relabel_rate_gets_its_section(make_results: ModuleType) -> None:
    data = {"command": "benchmarks/relabel_rate.py", "transitions": 1_000_000, "obs_dim": 17, "act_dim": 6,
            "ensemble": {"members": 3}, "torch_threads": 1, "repeats": 5, "seconds_per_million_transitions": 1.3034,
            "transitions_relabelled_per_second": 767_200.4, "relabel_over_reward_fn_only_wall_time_ratio": 1.062,
            "commit": "57ece3cabc", "machine": {"cpu": "some CPU"}, "date": "2026-12-01"}
    text = make_results.render(None, [], None, [], data)
    assert "| seconds per million transitions (goal ≤ 2) | 1.30 |" in text
    assert "| transitions relabelled per second | 767,200 |" in text and "| 1.06 |" in text
    assert "Relabelling" not in make_results.render(None, [], None, [], None)


def test_offpolicy_section_pairs_each_arm_with_true_reward_sac_by_seed(make_results: ModuleType) -> None:
    runs = []
    for seed, (sac, pebble) in enumerate([(400.0, 380.0), (500.0, 450.0), (300.0, 330.0)]):
        runs.append({"task": "walker_walk", "arm": "sac", "seed": seed, "steps": 40000, "return_true": sac, "wall_seconds": 100.0})
        runs.append({"task": "walker_walk", "arm": "pebble_1000_oracle", "seed": seed, "steps": 40000, "return_true": pebble,
                     "wall_seconds": 110.0 + seed})
    data = {"runs": runs, "jobs_done": 6, "jobs_in_grid": 36, "tasks": {"walker_walk": "x"},
            "arms": {"sac": {}, "pebble_1000_oracle": {}, "pebble_100_oracle": {}}}
    text = make_results.render(None, [], None, [], None, data)
    row = next(line for line in text.splitlines() if line.startswith("| pebble_1000_oracle"))
    # fractions 0.95, 0.90, 1.10 → IQM of three = their mean 0.98; wall-time ratios 1.10, 1.11, 1.12 → median 1.11
    assert "| 3 |" in row and "0.98 [" in row and "(goal ≥ 0.9)" in row and row.endswith("| 1.11 |")
    assert "| pebble_100_oracle | 0 | – | – (goal ≥ 0.7) | – |" in text


def test_offpolicy_wall_time_ratios_come_only_from_runs_timed_alone(make_results: ModuleType) -> None:
    runs = []
    for seed, wall in enumerate([300.0, 110.0, 120.0]):  # seed 0's pair ran beside other work
        for arm, w in (("sac", 100.0), ("pebble_1000_oracle", wall)):
            runs.append({"job": f"{arm}_cheetah_run_seed{seed}", "task": "cheetah_run", "arm": arm, "seed": seed,
                         "steps": 20000, "return_true": 50.0, "wall_seconds": w})
    alone = [r["job"] for r in runs if r["seed"] > 0]
    data = {"runs": runs, "jobs_done": 6, "jobs_in_grid": 36, "tasks": {"cheetah_run": "x"}, "timed_alone": alone,
            "arms": {"sac": {}, "pebble_1000_oracle": {}}}
    text = make_results.render(None, [], None, [], None, data)
    row = next(line for line in text.splitlines() if line.startswith("| pebble_1000_oracle"))
    assert row.endswith("| 1.15 |")  # median of 1.10 and 1.20; seed 0's 3.0 is left out
    assert "(4 of 6 runs)" in text and "timed alone" in text


def test_an_overhead_section_names_when_the_refit_takes_over_and_the_loop_s_own_cpu(make_results: ModuleType) -> None:
    relabel = {**fake_overhead(), "refit_epochs": 8, "refit_worker": "process", "stop_accuracy": 0.97, "async_install_steps": 0,
               "async_relabel": True, "cpu_time_ratio_median": 1.33, "main_process_cpu_time_ratio_median": 1.07}
    early = {**fake_overhead(), "refit_epochs": 8, "async_install_steps": 4096}
    text = make_results.render(None, [relabel, early, fake_overhead()])
    assert ("reward refits async, ≤ 8 epochs each, in a worker process, stopped at 97% training accuracy, taken over at the end of the "
            "round's first rollout, which is relabelled") in text
    assert "reward refits async, ≤ 8 epochs each, taken over 4,096 env steps into the round\n" in text
    assert "CPU-time ratio: median 1.33×. The loop's own process alone (the worker's refit left out): median 1.07×." in text
    assert text.count("own process alone") == 1  # results without the figure say nothing of it
    assert "the package's defaults" not in text  # older files do not say where their settings came from
    default = make_results.render(None, [{**relabel, "settings_from": "the package's defaults"}])
    assert "which is relabelled — the package's defaults\n" in default
    assert "relabelled take-over; the package's defaults): the loop takes" in default


def test_the_suite_section_names_the_cpu_of_each_tasks_runs_where_the_grid_used_more_than_one(
        make_results: ModuleType) -> None:
    def run(task: str, arm: str, cpu: str) -> dict:
        return {"job": {"task": task, "arm": arm, "seed": 0}, "machine": {"cpu": cpu}}

    one = [run("ant_upright", "ppo", "Intel"), run("ant_upright", "loop", "Intel")]
    assert make_results._suite_machines(one) == ""  # one CPU: nothing to say
    two = [*one, run("pusher_gentle", "ppo", "AMD"), run("pusher_gentle", "loop", "AMD"),
           run("reacher_smooth", "ppo", "AMD"), run("reacher_smooth", "loop", "Intel")]
    said = make_results._suite_machines(two)
    assert "AMD: pusher_gentle; Intel: ant_upright" in said
    assert said.endswith("tasks whose runs were made on more than one CPU: reacher_smooth.")
