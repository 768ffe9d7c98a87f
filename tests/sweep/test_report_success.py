"""The sweep report's success-rate columns (issue 15): the mean verifier success rate per setting, n/a (never 0)
for a task without a verifier."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rlhf_robotics.robotics.sweep_report import (
    build_report,
    run_metrics,
    scan_sweep,
    status_lines,
    to_markdown,
)


def _job(root: Path, name: str, overrides: list[str], summary: dict) -> None:
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (d / "run_info.json").write_text(json.dumps({"commit": "abc", "host": os.uname().nodename, "pid": os.getpid()}))
    (d / "summary.json").write_text(json.dumps(summary))


def _summary(rate: float | None, baseline_rate: float | None) -> dict:
    reason = None if rate is not None else "Hopper-v5 reports no info['is_success'] (the task has no verifier)"
    return {"policy_return_true": {"mean": 1.0, "std": 0.0, "episodes": 10}, "fraction_of_true_reward_ppo": None,
            "reward_model_accuracy_vs_oracle": 0.5, "labels_used": 10,
            "policy_success": {"rate": rate, "successes": None if rate is None else int(rate * 10), "episodes": 10,
                               "reason": reason},
            "baseline_success": {"rate": baseline_rate, "successes": None, "episodes": 10, "reason": reason}}


def test_report_shows_success_rate_columns_and_na_without_a_verifier(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    rates = [(0.2, 0.6), (0.4, 1.0), (0.9, 0.8)]
    for seed, (rate, base) in enumerate(rates):
        _job(root, str(seed), ["env=hopper_backflip", f"seed={seed}"], _summary(rate, base))
    for seed in range(2):
        _job(root, str(3 + seed), ["env=hopper", f"seed={seed}"], _summary(None, None))
    report = build_report(scan_sweep(root), root, np.random.default_rng(0), reps=200)
    flip, hopper = report.settings
    assert flip.mean["success_rate"].point == pytest.approx(0.5)
    assert flip.mean["baseline_success_rate"].point == pytest.approx(0.8)
    assert hopper.done == 2 and hopper.mean["success_rate"].n == 0  # null, not 0
    md = to_markdown(report)
    assert "| success rate mean | true-reward PPO success rate mean |" in md
    assert "| `env=hopper_backflip` | 3 | 0 |" in md
    row = next(line for line in md.splitlines() if line.startswith("| `env=hopper_backflip`"))
    assert row.endswith(f"| {flip.mean['success_rate'].fmt()} | {flip.mean['baseline_success_rate'].fmt()} |")
    assert row.split("|")[-3].strip().startswith("0.5 [") and row.split("|")[-2].strip().startswith("0.8 [")
    hopper_row = next(line for line in md.splitlines() if line.startswith("| `env=hopper` "))
    assert hopper_row.endswith("| n/a | n/a |")
    assert "n/a where the task has no verifier" in md
    assert np.isnan(run_metrics(_summary(None, None))["success_rate"])
    assert "success rate 0.20" in status_lines(scan_sweep(root))[0]
