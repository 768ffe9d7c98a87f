"""benchmarks/lm_seeds.py (issue 14): the grid, its filters and seed overrides, and RESULTS.md's section from fake
finished jobs (IQM with bootstrap intervals per task and stage)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from bench_scripts import load_script

from rlhf_robotics.robotics.sweep_stats import iqm


@pytest.fixture(scope="module")
def lm_seeds() -> ModuleType:
    return load_script("lm_seeds")


def test_grid_filters_and_seed_overrides(lm_seeds: ModuleType) -> None:
    jobs = lm_seeds.plan()
    assert len(jobs) == 9 and {j.task for j in jobs} == {"arithmetic", "arith_steps", "sorting"}
    assert [j.key for j in lm_seeds.select(jobs, ["task=sorting", "seed=0,2"])] == ["sorting_s0", "sorting_s2"]
    with pytest.raises(SystemExit, match="task=NAME"):
        lm_seeds.select(jobs, ["arm=x"])
    over = lm_seeds.Job("sorting", 2).overrides(Path("/tmp/run"))
    assert "tasks=[sorting]" in over and "max_new_tokens=12" in over
    assert "pretrain.seed=200" in over and "dpo.seed=204" in over and "eval.seed=207" in over
    from rlhf_robotics.cli.lm import compose, to_lm_config

    config = to_lm_config(compose([o for o in over if not o.startswith("threads")]))  # every override composes
    assert config.eval.tasks == ("sorting",) and config.grpo.seed == 203


def _fake_run(task: str, seed: int, sft_em: float) -> dict[str, Any]:
    def row(stage: str, em: float, gold: float, kl: float | None) -> dict[str, Any]:
        return {"stage": stage, "exact_match": em, "gold": gold, "exact_match_sampled": em - 0.1,
                "gold_sampled": gold - 0.1, "kl_from_sft": kl}

    return {"task": task, "seed": seed, "wall_seconds": 200.0 + seed, "load_average_at_end": [4.0, 4.0, 4.0],
            "table": [row("sft", sft_em, 0.7, 0.0), row("dpo", sft_em + 0.1, 0.8, 1.5 + seed),
                      row("best_of_n", sft_em + 0.05, 0.75, 1.2)],
            "reward_model": {"accuracy_vs_gold": 0.9, "accuracy_by_task": {task: 0.8 + 0.05 * seed},
                             "eval_pairs_by_task": {task: 150}, "training_ties": 100, "labels": {"first": 700, "second": 800}}}


def test_section_per_task_with_intervals(make_results: ModuleType) -> None:
    runs = [_fake_run("sorting", s, 0.5 + 0.1 * s) for s in range(3)] + [_fake_run("arithmetic", 0, 0.6)]
    data = {"benchmark": "lm_seeds", "runs": runs, "jobs_done": 4, "jobs_in_grid": 9,
            "tasks": {"arithmetic": 4, "arith_steps": 10, "sorting": 12}, "commit": "abcdef123456",
            "machine": {"cpu": "Test CPU"}, "date": "2026-12-01"}
    text = make_results.render(None, [], lm_seeds=data)
    assert "## The LM track over seeds (issue 14)" in text and "4 of 9 jobs" in text
    assert "### sorting (seeds: 0, 1, 2)" in text and "### arith_steps (seeds: none yet)" in text
    sft = next(line for line in text.splitlines() if line.startswith("| sft |") and "1 seed" not in line)
    assert sft.startswith(f"| sft | {100 * iqm(np.array([0.5, 0.6, 0.7])):.1f} [")
    dpo = [line for line in text.splitlines() if line.startswith("| dpo |")]
    assert dpo[0].endswith("| 1.500 (1 seed) |")  # arithmetic: tasks in the grid's order
    assert dpo[1].endswith(f"| {iqm(np.array([1.5, 2.5, 3.5])):.3f} [1.500, 3.500] |")  # sorting's KL over 3 seeds
    assert "80.0 % (1 seed)" in text  # arithmetic's reward model, one seed
    assert "150, 150, 150 pairs" in text
