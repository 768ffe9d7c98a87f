"""``rlhf-robotics report <sweep dir> [key=value ...]``: aggregate a sweep (``rlhf-robotics -m ...``) into a
Markdown table, a JSON file and PNG figures, per setting: IQM and mean with 95 % bootstrap confidence intervals
of the final true return, of the fraction of the true-reward baseline, of reward-model accuracy and of labels
used; the probability of improvement between settings; learning curves with bands. Failed jobs are listed with
their error. A Hydra app over ``conf/report.yaml``; the sweep folder may be given first, without ``dir=``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from rlhf_robotics.cli.app import App, UsageError, run_app, typed
from rlhf_robotics.typed_config import ConfigError


@dataclass
class ReportSettings:
    """``conf/report.yaml``."""

    dir: str | None = None
    """The sweep directory (``sweep`` would clash with training's ``sweep`` group in the same config root)."""
    out: str | None = None
    """Where to write the report; ``None``: ``<sweep>/report``."""
    compare: list[str] | None = None
    """Two settings for P(X > Y); ``None``: each setting against the first."""
    metric: str = "final_return"
    """Metric of the probability of improvement."""
    reps: int = 2000
    """Bootstrap resamples."""
    seed: int = 0
    """Seed of the bootstrap."""
    watch: float | None = None
    """Seconds between job-state prints until no job runs or waits; then the report."""
    status: bool = False
    """Print every job's state once and exit."""

    def __post_init__(self) -> None:
        from rlhf_robotics.robotics.sweep_report import METRICS

        if self.reps < 1:
            raise ValueError(f"reps={self.reps}: give a positive number of bootstrap resamples, e.g. 2000")
        if self.metric not in METRICS:
            raise ValueError(f"metric={self.metric!r}: allowed values are {', '.join(METRICS)}")
        if self.compare is not None and len(self.compare) != 2:
            raise ValueError(f"compare={self.compare!r}: give two settings, e.g. "
                             "'compare=[\"teacher=mistake\",\"teacher=oracle\"]'")
        if self.watch is not None and not self.watch > 0:
            raise ValueError(f"watch={self.watch}: must be > 0 seconds")


def report_task(cfg: DictConfig) -> None:
    from rlhf_robotics.robotics.sweep_report import build_report, scan_sweep, status_lines, write_report

    s = typed(ReportSettings, cfg)
    if s.dir is None:
        raise ConfigError("dir=...: missing; give the sweep directory, e.g. rlhf-robotics report multirun/<date>/<time>")
    try:
        jobs = scan_sweep(s.dir)
        if s.status:
            print("\n".join(status_lines(jobs)))
            return
        while s.watch is not None:
            print("\n".join(status_lines(jobs)), flush=True)
            if not any(j.state in ("running", "pending") for j in jobs):
                break
            time.sleep(s.watch)
            jobs = scan_sweep(s.dir)
            print(flush=True)
        rng = np.random.default_rng(s.seed)
        report = build_report(jobs, s.dir, rng, reps=s.reps,
                              compare=(s.compare[0], s.compare[1]) if s.compare else None, metric=s.metric)
        paths = write_report(report, Path(s.out) if s.out else Path(s.dir) / "report", rng)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    print(Path(paths["markdown"]).read_text(encoding="utf-8"))
    for name, path in paths.items():
        print(f"{name}: {path}")


APP = App(
    command="report",
    config_name="report",
    task=report_task,
    summary="aggregate a sweep into a Markdown table, JSON and figures (IQM, bootstrap CIs, P(improvement))",
    usage="""
rlhf-robotics report multirun/smoke/2026-11-27/10-00-00
rlhf-robotics report multirun/smoke/2026-11-27/10-00-00 watch=10     # job states every 10 s until all end
rlhf-robotics report DIR 'compare=["teacher=mistake","teacher=oracle"]' metric=reward_model_accuracy
""",
)


def main(argv: list[str]) -> int:
    if argv and "=" not in argv[0] and not argv[0].startswith("-"):
        argv = [f"dir={argv[0]}", *argv[1:]]  # the sweep folder first, as `ls` would take it
    return run_app(APP, argv)
