"""The report's statistics against values computed by hand, on fixed tables."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rlhf_robotics.robotics.sweep_report import (
    build_report,
    scan_sweep,
    status_lines,
    to_markdown,
    write_report,
)
from rlhf_robotics.robotics.sweep_stats import (
    bootstrap_ci,
    curve_band,
    iqm,
    mean,
    probability_of_improvement,
    probability_of_improvement_ci,
)


def test_iqm_drops_the_outer_quarters() -> None:
    assert iqm(np.array([100.0, 1, 2, 3, 4])) == 3.0  # n=5: one cut from each end → mean(2, 3, 4)
    assert iqm(np.array([8.0, 1, 2, 3, 4, 5, 6, 7])) == 4.5  # n=8: two cut → mean(3, 4, 5, 6)
    assert iqm(np.array([1.0, 2, 9])) == 4.0  # n=3: nothing cut, the mean
    assert mean(np.array([100.0, 1, 2, 3, 4])) == 22.0


def test_probability_of_improvement_counts_ties_as_half() -> None:
    # pairs (x, y): 1 beats only 0 → 1; 2 ties 2 twice, beats 0 → 2; 3 beats all → 3; total 6 of 9
    assert probability_of_improvement(np.array([1.0, 2, 3]), np.array([2.0, 2, 0])) == pytest.approx(6 / 9)
    assert probability_of_improvement(np.array([5.0]), np.array([5.0])) == 0.5
    with pytest.raises(ValueError, match="runs on both sides, got 0 and 1"):
        probability_of_improvement(np.array([]), np.array([1.0]))


def test_percentile_bootstrap_of_two_runs_matches_the_exact_distribution() -> None:
    # resampled means of {0, 1} are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5 % and 97.5 % quantiles
    # are 0 and 1; of 50 resamples a quarter-ish land on each end
    ci = bootstrap_ci(np.array([0.0, 1.0]), mean, np.random.default_rng(0), reps=4000)
    assert (ci.point, ci.low, ci.high, ci.n) == (0.5, 0.0, 1.0, 2)
    narrow = bootstrap_ci(np.array([0.0, 1.0]), mean, np.random.default_rng(0), reps=4000, confidence=0.4)
    assert (narrow.low, narrow.high) == (0.5, 0.5)  # the middle 40 % all sit on 0.5 (P = 1/2)


def test_bootstrap_edge_cases() -> None:
    rng = np.random.default_rng(0)
    assert bootstrap_ci(np.array([3.0]), iqm, rng).fmt() == "3 [3, 3]"
    empty = bootstrap_ci(np.array([float("nan")]), iqm, rng)
    assert empty.n == 0 and empty.fmt() == "n/a"
    with pytest.raises(ValueError, match="confidence must be in"):
        bootstrap_ci(np.array([1.0]), iqm, rng, confidence=95)


def test_probability_of_improvement_interval_of_separated_settings_is_one() -> None:
    p = probability_of_improvement_ci(np.array([5.0, 6, 7]), np.array([1.0, 2, 3]), np.random.default_rng(0), reps=200)
    assert (p.point, p.low, p.high) == (1.0, 1.0, 1.0)


def test_curve_band_interpolates_onto_the_common_grid() -> None:
    curves = [(np.array([0.0, 10.0]), np.array([0.0, 10.0])), (np.array([0.0, 5.0, 10.0, 20.0]), np.array([2.0, 2.0, 2.0, 2.0]))]
    grid, center, low, high = curve_band(curves, np.random.default_rng(0), reps=400)
    assert grid.tolist() == [0.0, 5.0, 10.0]  # up to the shorter run's end
    assert center.tolist() == [1.0, 3.5, 6.0]
    assert low.tolist() == [0.0, 2.0, 2.0] and high.tolist() == [2.0, 5.0, 10.0]  # each run alone, twice


def _job(root: Path, name: str, overrides: list[str], summary: dict | None = None, failed: dict | None = None,
         curve: list[tuple[int, float]] | None = None, pid: int | None = None) -> None:
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (d / "run_info.json").write_text(json.dumps({"commit": "abc123", "host": os.uname().nodename,
                                                 "pid": pid if pid is not None else os.getpid()}))
    if summary is not None:
        (d / "summary.json").write_text(json.dumps(summary))
    if failed is not None:
        (d / "failed.json").write_text(json.dumps(failed))
    if curve:
        (d / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "policy/return_true": v}) + "\n" for s, v in curve))


def _summary(ret: float, frac: float | None, acc: float, labels: int = 40) -> dict:
    return {"policy_return_true": {"mean": ret, "std": 0.0, "episodes": 2}, "fraction_of_true_reward_ppo": frac,
            "reward_model_accuracy_vs_oracle": acc, "labels_used": labels,
            "score_vs_reference": None if frac is None else 2 * frac}


# A fixed table: teacher=oracle returns 10, 20, 30, 40, 1000 (fractions 0.1 … 0.5); mistake returns 5, 15, 25.
ORACLE = [(10.0, 0.1, 0.9), (20.0, 0.2, 0.8), (30.0, 0.3, 0.7), (40.0, 0.4, 0.6), (1000.0, 0.5, 1.0)]
MISTAKE = [(5.0, None, 0.5), (15.0, None, 0.6), (25.0, None, 0.7)]


@pytest.fixture()
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    n = 0
    for teacher, rows in (("oracle", ORACLE), ("mistake", MISTAKE)):
        for seed, (ret, frac, acc) in enumerate(rows):
            _job(root, str(n), [f"teacher={teacher}", f"seed={seed}", "+sweep=smoke"], summary=_summary(ret, frac, acc),
                 curve=[(0, 0.0), (100, ret)])
            n += 1
    _job(root, str(n), ["teacher=noisy", "seed=0", "+sweep=smoke"],
         failed={"type": "ValueError", "message": "no episode in the buffer is 400 steps long"})
    dead = subprocess.Popen(["true"])
    dead.wait()
    _job(root, str(n + 1), ["teacher=noisy", "seed=1", "+sweep=smoke"], pid=dead.pid)  # process gone: died
    _job(root, str(n + 2), ["teacher=noisy", "seed=2", "+sweep=smoke"])  # this process: running
    plan = [[f"teacher={t}", f"seed={s}", "+sweep=smoke"] for t in ("oracle",) for s in range(5)]
    plan += [["teacher=mistake", f"seed={s}", "+sweep=smoke"] for s in range(3)]
    plan += [["teacher=noisy", f"seed={s}", "+sweep=smoke"] for s in range(4)]
    (root / "sweep.json").write_text(json.dumps({"jobs": plan}))
    return root


def test_report_numbers_match_the_hand_computed_table(sweep: Path) -> None:
    jobs = scan_sweep(sweep)
    assert [j.state for j in jobs] == ["done"] * 8 + ["failed", "died", "running", "pending"]
    report = build_report(jobs, sweep, np.random.default_rng(0), reps=500)
    oracle, mistake, noisy = report.settings
    assert (oracle.setting, mistake.setting, noisy.setting) == ("teacher=oracle", "teacher=mistake", "teacher=noisy")
    assert report.shared_overrides == ["+sweep=smoke"]
    assert (oracle.done, oracle.failed, noisy.done, noisy.failed) == (5, 0, 0, 1)
    assert oracle.iqm["final_return"].point == 30.0  # mean(20, 30, 40): the 1000 outlier is cut
    assert oracle.mean["final_return"].point == 220.0
    assert oracle.iqm["fraction_of_true_reward_ppo"].point == pytest.approx(0.3)
    assert oracle.iqm["score_vs_reference"].point == pytest.approx(0.6)
    assert mistake.mean["score_vs_reference"].n == 0  # a task without a reference: n/a, not 0
    assert oracle.mean["reward_model_accuracy"].point == pytest.approx(0.8)
    assert mistake.iqm["final_return"].point == 15.0 and mistake.mean["final_return"].point == 15.0
    assert mistake.mean["fraction_of_true_reward_ppo"].n == 0  # baseline=false: n/a, not 0
    for s in (oracle, mistake):
        for stat in (s.iqm, s.mean):
            ci = stat["final_return"]
            assert ci.low <= ci.point <= ci.high
    # P(mistake > oracle): 5 beats none; 15 beats 10; 25 beats 10, 20 → 3 of 15 pairs
    (poi,) = report.improvement
    assert (poi["x"], poi["y"]) == ("teacher=mistake", "teacher=oracle") and poi["p"].point == pytest.approx(3 / 15)
    assert report.commits == ["abc123"]


def test_report_files_list_failed_jobs_with_their_error(sweep: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    report = build_report(scan_sweep(sweep), sweep, rng, reps=200, compare=("teacher=oracle", "teacher=mistake"))
    assert report.improvement[0]["p"].point == pytest.approx(12 / 15)
    paths = write_report(report, tmp_path / "out", rng)
    md = Path(paths["markdown"]).read_text()
    assert "| `teacher=oracle` | 5 | 0 | 30 [" in md
    assert "ValueError: no episode in the buffer is 400 steps long" in md and "## Failed jobs" in md
    assert "process gone" in md and "pending" in md
    for name in ("final_return", "learning_curves"):
        assert Path(paths[name]).read_bytes()[:4] == b"\x89PNG"
    assert json.loads(Path(paths["json"]).read_text())["counts"] == {"done": 8, "running": 1, "failed": 1, "died": 1,
                                                                     "pending": 1}
    lines = status_lines(scan_sweep(sweep))
    assert lines[-1] == "8 done, 1 running, 1 failed, 1 died, 1 pending of 12 jobs"
    assert lines[8].startswith("#  8 failed   teacher=noisy seed=0 — ValueError")
    assert "teacher=mistake" in to_markdown(report)


def test_report_errors_name_the_bad_value(tmp_path: Path, sweep: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_sweep(tmp_path / "nope")
    with pytest.raises(ValueError, match="no setting 'teacher=perfect'.*teacher=oracle"):
        build_report(scan_sweep(sweep), sweep, np.random.default_rng(0), compare=("teacher=perfect", "teacher=oracle"))
    with pytest.raises(ValueError, match="unknown metric 'return'"):
        build_report(scan_sweep(sweep), sweep, np.random.default_rng(0), metric="return")


def test_matches_rliable_reference_values() -> None:
    """IQM and probability of improvement equal rliable's on the same runs. rliable itself is not a dependency
    (see the sweep_stats docstring: it needs arch<8, which does not import under pandas 3), so its outputs are
    frozen here: computed with rliable 1.2.0, arch 7.2.0, pandas 2.3.3 in a scratch venv by
    ``metrics.aggregate_iqm(x[:, None])`` and ``metrics.probability_of_improvement(x[:, None], y[:, None])``."""
    x = np.random.default_rng(1).normal(size=11)
    y = np.random.default_rng(2).normal(size=7) + 0.3
    assert x[0] == pytest.approx(0.345584192064786) and y[0] == pytest.approx(0.4890533817935331)  # same draws
    assert iqm(x) == pytest.approx(0.3415201541379909, abs=1e-12)
    assert probability_of_improvement(x, y) == pytest.approx(0.5324675324675324, abs=1e-12)
    z = np.array([0.3, 1.2, -0.5, 2.2, 0.9, 0.1, 1.7, 1.1])
    w = np.array([1.0, 1.0, 2.0, 0.5, 1.1, 3.0])
    assert iqm(z) == pytest.approx(0.875, abs=1e-12) and mean(z) == pytest.approx(0.875, abs=1e-12)
    assert probability_of_improvement(z, w) == pytest.approx(0.3645833333333333, abs=1e-12)


def test_bootstrap_interval_matches_the_enumerated_bootstrap_distribution() -> None:
    """The percentile interval of the IQM of 4 runs against the exact bootstrap distribution, enumerated over all
    4⁴ equally likely resamples (the 10 % and 90 % quantiles sit far from any jump of its CDF, so 20 000
    random resamples land on the same values)."""
    x = np.array([0.0, 1.0, 2.0, 6.0])
    exact = np.array([iqm(np.array(r)) for r in itertools.product(x, repeat=4)])
    low, high = np.quantile(exact, [0.1, 0.9], method="inverted_cdf")
    assert (low, high) == (0.5, 4.0)
    ci = bootstrap_ci(x, iqm, np.random.default_rng(0), reps=20_000, confidence=0.8)
    assert (ci.point, ci.low, ci.high) == (1.5, low, high)
