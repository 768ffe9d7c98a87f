"""Reading a sweep directory (Hydra multirun output) back: each job's state, its setting, and per-setting
aggregates with bootstrap intervals, written as Markdown, JSON and PNG figures.

A job is a subfolder holding ``.hydra/overrides.yaml``. It is *done* when it holds ``summary.json``, *failed*
when it holds ``failed.json`` (written by ``rlhf_robotics.cli.sweep_jobs``), *died* when the process named in
its ``run_info.json`` is gone from this host without either, and *running* otherwise; jobs listed in the sweep's
``sweep.json`` plan without a folder yet are *pending*. A job's *setting* is its overrides other than ``seed``
that are not the same in every job.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from rlhf_robotics.preference.rundir import read_status
from rlhf_robotics.robotics.sweep_stats import (
    Interval,
    bootstrap_ci,
    curve_band,
    iqm,
    mean,
    probability_of_improvement_ci,
)

JobState = Literal["done", "running", "failed", "died", "pending"]

METRICS: dict[str, str] = {
    "final_return": "final true return",
    "fraction_of_true_reward_ppo": "fraction of true-reward PPO",
    "score_vs_reference": "score vs published reference",
    "reward_model_accuracy": "reward-model accuracy vs oracle",
    "labels_used": "labels used",
    "success_rate": "verifier success rate",
    "baseline_success_rate": "true-reward PPO's verifier success rate",
}
"""Metric key → its name in tables; values come from each run's ``summary.json`` (see :func:`run_metrics`)."""


@dataclass(frozen=True)
class Job:
    """One job of a sweep as found on disk."""

    name: str
    """Folder path under the sweep directory (Hydra's job number by default)."""
    path: Path
    overrides: tuple[str, ...]
    state: JobState
    summary: dict[str, Any] | None = None
    error: str | None = None
    """For failed jobs: ``Type: message`` of the exception."""
    detail: str = ""
    """For running jobs: the loop's ``status.json`` message."""
    commit: str | None = None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(info: dict[str, Any] | None) -> bool:
    """Whether the process that ``run_info.json`` names still runs (unknown hosts count as alive)."""
    if not info or info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return True
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_job(path: Path, name: str | None = None) -> Job:
    """The state of the job in folder ``path`` (which holds ``.hydra/overrides.yaml``), named ``name``
    (default: the folder's name)."""
    name = name or path.name
    overrides = tuple(str(o) for o in (yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []))
    info = _read_json(path / "run_info.json")
    commit = info.get("commit") if info else None
    failed = _read_json(path / "failed.json")
    if failed is not None:
        return Job(name, path, overrides, "failed", error=f"{failed.get('type', 'Error')}: {failed.get('message', '')}",
                   commit=commit)
    summary = _read_json(path / "summary.json")
    if summary is not None:
        return Job(name, path, overrides, "done", summary=summary, commit=commit)
    status = read_status(path)
    detail = str(status.get("message") or status.get("state") or "starting")
    state: JobState = "running" if _alive(info) else "died"
    return Job(name, path, overrides, state, detail=detail, commit=commit)


def _job_order(name: str) -> tuple[int, int, str]:
    """Numbered job folders first, by number; others (custom ``hydra.sweep.subdir``) by name."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def scan_sweep(sweep_dir: str | Path) -> list[Job]:
    """Every job under ``sweep_dir``, in job-number order, including pending jobs of the ``sweep.json`` plan.

    Raises:
        FileNotFoundError: ``sweep_dir`` does not exist or holds no Hydra job folder.
    """
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep directory {str(root)!r} does not exist; give the folder a multirun printed "
                                "('sweep output dir'), e.g. multirun/smoke/2026-11-27/10-00-00")
    # Hydra's default subdir is the job number; a custom hydra.sweep.subdir may nest (walked only then: runs
    # hold thousands of segment files)
    found = list(root.glob("*/.hydra/overrides.yaml")) or list(root.glob("**/.hydra/overrides.yaml"))
    folders = [p.parent.parent for p in found if p.parent.parent != root]
    jobs = [read_job(p, str(p.relative_to(root))) for p in folders]
    plan = _read_json(root / "sweep.json") or {}
    started = {j.overrides for j in jobs}
    for num, overrides in enumerate(plan.get("jobs") or []):
        if tuple(overrides) not in started:
            jobs.append(Job(str(num), root / str(num), tuple(overrides), "pending"))
    if not jobs:
        raise FileNotFoundError(f"no job folders (with .hydra/overrides.yaml) under {str(root)!r}; is it a sweep "
                                "directory from `rlhf-robotics -m ...`?")
    return sorted(jobs, key=lambda j: _job_order(j.name))


def settings_of(jobs: Iterable[Job]) -> tuple[dict[str, str], list[str]]:
    """Each job's setting label, and the overrides shared by all jobs.

    Returns:
        ``({job name: setting}, shared overrides)``; a setting is its varying non-seed overrides joined by
        spaces, or ``"all"`` when only the seed varies.
    """
    jobs = list(jobs)
    sets = [set(j.overrides) for j in jobs]
    shared = set.intersection(*sets) if sets else set()
    labels = {}
    for j in jobs:
        varying = [o for o in j.overrides if o not in shared and o.split("=", 1)[0].lstrip("+~") != "seed"]
        labels[j.name] = " ".join(varying) or "all"
    return labels, sorted(shared)


def run_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The reported metrics of one run's ``summary.json`` (NaN where the run did not measure one)."""

    def num(value: Any) -> float:
        return float(value) if isinstance(value, (int, float)) and value is not None else float("nan")

    policy = summary.get("policy_return_true") or {}
    # a task without a verifier writes {"rate": null, "reason": ...}: NaN here, so n/a in tables, never 0
    success, baseline_success = summary.get("policy_success") or {}, summary.get("baseline_success") or {}
    return {
        "final_return": num(policy.get("mean")),
        "fraction_of_true_reward_ppo": num(summary.get("fraction_of_true_reward_ppo")),
        "score_vs_reference": num(summary.get("score_vs_reference")),
        "reward_model_accuracy": num(summary.get("reward_model_accuracy_vs_oracle")),
        "labels_used": num(summary.get("labels_used")),
        "success_rate": num(success.get("rate")),
        "baseline_success_rate": num(baseline_success.get("rate")),
    }


def learning_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, true return)`` of the policy's training episodes, from the run's per-round ``metrics.jsonl``."""
    steps, values = [], []
    try:
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if "policy/return_true" in row and "step" in row:
            steps.append(float(row["step"]))
            values.append(float(row["policy/return_true"]))
    order = np.argsort(steps, kind="stable")
    return np.asarray(steps)[order], np.asarray(values)[order]


@dataclass
class SettingStats:
    """Aggregates of one setting over its finished runs."""

    setting: str
    done: int
    failed: int
    iqm: dict[str, Interval] = field(default_factory=dict)
    """Metric key → IQM with its 95 % bootstrap interval."""
    mean: dict[str, Interval] = field(default_factory=dict)
    """Metric key → mean with its 95 % bootstrap interval."""


@dataclass
class SweepReport:
    """Everything ``rlhf-robotics report`` writes."""

    sweep_dir: str
    shared_overrides: list[str]
    commits: list[str]
    counts: dict[str, int]
    settings: list[SettingStats]
    improvement: list[dict[str, Any]]
    """Rows ``{x, y, metric, p: Interval}``: P(a run of x beats a run of y)."""
    jobs: list[Job]
    job_settings: dict[str, str]
    figures: dict[str, str] = field(default_factory=dict)


def build_report(jobs: list[Job], sweep_dir: str | Path, rng: np.random.Generator, reps: int = 2000,
                 compare: tuple[str, str] | None = None, metric: str = "final_return") -> SweepReport:
    """Aggregate ``jobs`` per setting.

    Args:
        jobs: from :func:`scan_sweep`.
        sweep_dir: shown in the report.
        rng: generator for every bootstrap.
        reps: bootstrap resamples.
        compare: settings ``(x, y)`` for the probability of improvement; by default every setting with finished
            runs against the first such setting.
        metric: a key of :data:`METRICS` for the probability of improvement.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    job_settings, shared = settings_of(j for j in jobs if j.state != "pending")
    order: list[str] = list(dict.fromkeys(job_settings[j.name] for j in jobs if j.name in job_settings))
    values: dict[str, dict[str, list[float]]] = {s: {m: [] for m in METRICS} for s in order}
    stats = {s: SettingStats(s, 0, 0) for s in order}
    for j in jobs:
        if j.name not in job_settings:
            continue
        s = job_settings[j.name]
        if j.state == "failed":
            stats[s].failed += 1
        if j.state == "done" and j.summary is not None:
            stats[s].done += 1
            for m, v in run_metrics(j.summary).items():
                values[s][m].append(v)
    for s in order:
        for m in METRICS:
            x = np.asarray(values[s][m], dtype=float)
            stats[s].iqm[m] = bootstrap_ci(x, iqm, rng, reps)
            stats[s].mean[m] = bootstrap_ci(x, mean, rng, reps)
    if compare is not None:
        missing = [c for c in compare if c not in values]
        if missing:
            raise ValueError(f"compare: no setting {missing[0]!r} in this sweep; settings are: {', '.join(order)}")
        pairs = [compare]
    else:
        measured = [s for s in order if np.isfinite(values[s][metric]).any()]
        pairs = [(s, measured[0]) for s in measured[1:]]
    improvement = [{"x": x, "y": y, "metric": metric,
                    "p": probability_of_improvement_ci(np.asarray(values[x][metric]), np.asarray(values[y][metric]), rng, reps)}
                   for x, y in pairs]
    counts = {state: sum(j.state == state for j in jobs) for state in ("done", "running", "failed", "died", "pending")}
    commits = sorted({j.commit for j in jobs if j.commit})
    return SweepReport(str(sweep_dir), shared, commits, counts, [stats[s] for s in order], improvement, jobs, job_settings)


def status_lines(jobs: list[Job]) -> list[str]:
    """One line per job (``#num state overrides — detail``) and a closing count, for ``--watch``."""
    labels, _ = settings_of(jobs)
    lines = []
    for j in jobs:
        seed = next((o for o in j.overrides if o.split("=", 1)[0].lstrip("+~") == "seed"), "")
        extra = j.error if j.state == "failed" else j.detail if j.state in ("running", "died") else ""
        if j.state == "done" and j.summary is not None:
            m = run_metrics(j.summary)
            extra = f"final true return {m['final_return']:.1f}" + (
                f", success rate {m['success_rate']:.2f}" if np.isfinite(m["success_rate"]) else "")
        lines.append(f"#{j.name:>3} {j.state:<8} {labels[j.name]} {seed}".rstrip() + (f" — {extra}" if extra else ""))
    counts = {s: sum(j.state == s for j in jobs) for s in ("done", "running", "failed", "died", "pending")}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" of {len(jobs)} jobs")
    return lines


def plot_figures(report: SweepReport, out_dir: Path, rng: np.random.Generator) -> dict[str, str]:
    """``final_return.png`` (IQM and mean with 95 % CIs per setting) and ``learning_curves.png`` (mean true return
    of training episodes with a 95 % bootstrap band per setting) in ``out_dir``; returns name → path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    names = [s.setting for s in report.settings]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.5))
    labelled: set[str] = set()
    for row, s in enumerate(reversed(report.settings)):
        for offset, (what, interval, color) in enumerate((("IQM", s.iqm["final_return"], "C0"),
                                                          ("mean", s.mean["final_return"], "C1"))):
            if interval.n:
                y = row + 0.15 * (offset * 2 - 1)
                ax.plot([interval.low, interval.high], [y, y], color=color, lw=6, alpha=0.4, solid_capstyle="butt")
                ax.plot([interval.point], [y], "|", color=color, ms=14, mew=2, label=None if what in labelled else what)
                labelled.add(what)
    ax.set_yticks(range(len(names)), list(reversed(names)))
    ax.set_xlabel("final true return (95 % bootstrap CI)")
    if labelled:
        ax.legend(loc="best")
    fig.tight_layout()
    figures["final_return"] = str(out_dir / "final_return.png")
    fig.savefig(figures["final_return"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, s in enumerate(report.settings):
        curves = [learning_curve(j.path) for j in report.jobs
                  if j.state == "done" and report.job_settings.get(j.name) == s.setting]
        grid, center, low, high = curve_band(curves, rng)
        if grid.size:
            ax.plot(grid, center, marker="o" if grid.size < 4 else None, color=f"C{i}", label=f"{s.setting} (n={len(curves)})")
            ax.fill_between(grid, low, high, color=f"C{i}", alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("true return of training episodes")
    ax.set_title("mean over seeds, 95 % bootstrap band")
    if ax.lines:
        ax.legend(fontsize="small")
    fig.tight_layout()
    figures["learning_curves"] = str(out_dir / "learning_curves.png")
    fig.savefig(figures["learning_curves"], dpi=110)
    plt.close(fig)
    return figures


def to_markdown(report: SweepReport) -> str:
    """The report as Markdown: status, per-setting table, probability of improvement, failures, figures."""
    c = report.counts
    lines = [f"# Sweep report: `{report.sweep_dir}`", "",
             f"Jobs: {c['done']} done, {c['failed']} failed, {c['running']} running, {c['died']} died, "
             f"{c['pending']} pending. Commit: {', '.join(f'`{x}`' for x in report.commits) or 'unknown'}.",
             f"Shared overrides: {' '.join(f'`{o}`' for o in report.shared_overrides) or 'none'}.", "",
             "IQM and mean over seeds with 95 % percentile-bootstrap confidence intervals (Agarwal et al. 2021).", "",
             "| setting | runs | failed | final true return IQM | final true return mean | fraction of true-reward PPO IQM "
             "| fraction mean | reward-model accuracy mean | labels used mean | success rate mean "
             "| true-reward PPO success rate mean |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in report.settings:
        lines.append(f"| `{s.setting}` | {s.done} | {s.failed} | {s.iqm['final_return'].fmt(4)} | {s.mean['final_return'].fmt(4)} "
                     f"| {s.iqm['fraction_of_true_reward_ppo'].fmt()} | {s.mean['fraction_of_true_reward_ppo'].fmt()} "
                     f"| {s.mean['reward_model_accuracy'].fmt()} | {s.mean['labels_used'].fmt(4)} "
                     f"| {s.mean['success_rate'].fmt()} | {s.mean['baseline_success_rate'].fmt()} |")
    if any(s.done and not s.mean["fraction_of_true_reward_ppo"].n for s in report.settings):
        lines += ["", "Fraction of true-reward PPO is n/a where runs had `baseline=false`."]
    if any(s.done and not s.mean["success_rate"].n for s in report.settings):
        lines += ["", "Success rate (share of evaluation episodes whose last step passes the task's verifier, "
                  "`info['is_success']`) is n/a where the task has no verifier."]
    if report.improvement:
        lines += ["", "## Probability of improvement", "", "| X | Y | metric | P(X > Y) [95 % CI] |", "|---|---|---|---|"]
        lines += [f"| `{r['x']}` | `{r['y']}` | {METRICS[r['metric']]} | {r['p'].fmt()} |" for r in report.improvement]
    failed = [j for j in report.jobs if j.state in ("failed", "died")]
    if failed:
        lines += ["", "## Failed jobs", "", "| job | overrides | error |", "|---|---|---|"]
        lines += [f"| {j.name} | `{' '.join(j.overrides)}` | {(j.error or 'process gone: ' + j.detail).replace('|', '/')} |"
                  for j in failed]
    unfinished = [j for j in report.jobs if j.state in ("running", "pending")]
    if unfinished:
        lines += ["", "## Not finished", ""] + [f"- {j.name} ({j.state}): `{' '.join(j.overrides)}` {j.detail}" for j in unfinished]
    if report.figures:
        lines += ["", "## Figures", ""] + [f"![{k}]({Path(v).name})" for k, v in report.figures.items()]
    return "\n".join(lines) + "\n"


def report_json(report: SweepReport) -> dict[str, Any]:
    """The report as plain JSON data."""
    return {
        "sweep_dir": report.sweep_dir, "shared_overrides": report.shared_overrides, "commits": report.commits,
        "counts": report.counts,
        "settings": [{"setting": s.setting, "done": s.done, "failed": s.failed,
                      "iqm": {m: asdict(v) for m, v in s.iqm.items()}, "mean": {m: asdict(v) for m, v in s.mean.items()}}
                     for s in report.settings],
        "probability_of_improvement": [{**r, "p": asdict(r["p"])} for r in report.improvement],
        "jobs": [{"name": j.name, "state": j.state, "overrides": list(j.overrides), "setting": report.job_settings.get(j.name),
                  "error": j.error, "path": str(j.path)} for j in report.jobs],
        "figures": report.figures,
    }


def write_report(report: SweepReport, out_dir: str | Path, rng: np.random.Generator) -> dict[str, str]:
    """Write ``report.md``, ``report.json`` and the figures into ``out_dir``; returns name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.figures = plot_figures(report, out, rng)
    paths = {"markdown": str(out / "report.md"), "json": str(out / "report.json"), **report.figures}
    Path(paths["markdown"]).write_text(to_markdown(report), encoding="utf-8")
    Path(paths["json"]).write_text(json.dumps(report_json(report), indent=2, default=float), encoding="utf-8")
    return paths
