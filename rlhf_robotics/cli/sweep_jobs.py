"""What a run and a sweep leave behind besides the experiment itself: provenance (overrides, seed, commit),
failures, and one status line per finished job.

:class:`RunRecorder` is a Hydra callback, registered in ``conf/config.yaml`` under ``hydra.callbacks``:

- ``on_multirun_start`` (in the launching process) caps BLAS/OpenMP threads for the jobs it starts, so parallel
  jobs do not oversubscribe the cores, and writes ``<sweep dir>/sweep.json``: commit, command-line overrides and
  the planned job list (for the basic sweeper), which ``rlhf-robotics report <dir> watch=10`` uses to show pending jobs;
- ``on_job_start`` (in the worker) writes ``run_info.json`` beside ``.hydra/``: commit, overrides, seed, host, pid;
- ``on_job_end`` logs ``job N done|failed`` and the sweep's progress.

:func:`keep_sweep_going` wraps the job function: under multirun an exception (a wrong value in one cell of
the grid included) is written to the job's ``failed.json`` and the sweep goes on. Hydra's basic sweeper would
re-raise a failed job after its batch and end the sweep there (``BasicSweeper.sweep`` reads
``JobReturn.return_value``), so under it the job returns NaN; the Optuna sweeper marks a raised trial failed and
continues up to its ``max_failure_rate``, so under it the error is raised on.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("rlhf_robotics.sweep")

REPO = Path(__file__).resolve().parents[2]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def git_commit(repo: Path = REPO) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of ``repo``; ``"unknown"`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True,
                             timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": sha, "dirty": dirty}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def planned_jobs(config: DictConfig) -> list[list[str]] | None:
    """The override list of every job the basic sweeper will launch, in job-number order; ``None`` for other
    sweepers (Optuna decides its trials as it goes)."""
    sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if not sweeper.endswith("BasicSweeper"):
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.select(config, "hydra.overrides.task", default=[]) or [])
    parsed = OverridesParser.create().parse_overrides(arguments)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


class RunRecorder(Callback):
    """Hydra callback recording provenance and progress (see the module docstring).

    Args:
        threads_per_job: value for OMP/MKL/OpenBLAS/NumExpr threads in jobs a multirun starts, unless the
            variable is already set (torch threads are the experiment's ``torch_threads``).
    """

    def __init__(self, threads_per_job: int = 1) -> None:
        if threads_per_job < 1:
            raise ValueError(f"hydra.callbacks.run_recorder.threads_per_job must be >= 1, got {threads_per_job}")
        self.threads_per_job = threads_per_job

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, str(self.threads_per_job))
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        try:
            jobs = planned_jobs(config)
        except Exception as err:  # a plan is a convenience for watch=; never stop a sweep over it
            log.warning("could not list the sweep's jobs in advance (%s); report watch= will not show pending jobs", err)
            jobs = None
        _write_json(sweep_dir / "sweep.json", {
            **git_commit(), "started": _now(), "host": socket.gethostname(), "argv": sys.argv[1:],
            "overrides": list(OmegaConf.select(config, "hydra.overrides.task", default=[]) or []),
            "sweeper": OmegaConf.select(config, "hydra.sweeper._target_"),
            "launcher": OmegaConf.select(config, "hydra.launcher._target_"),
            "jobs": jobs,
        })
        if jobs is not None:
            log.info("sweep of %d jobs in %s (progress: rlhf-robotics report %s watch=10)", len(jobs), sweep_dir, sweep_dir)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A single run writes its run_info.json itself, once every setting is valid (write_run_info): Hydra's
        # output folder is then the current folder, and nothing may be created before validation.
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return
        for folder in _run_folders(config):
            write_run_info(folder, OmegaConf.select(config, "seed"))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return
        what = " ".join(hc.overrides.task)
        out = Path(hc.runtime.output_dir)
        if job_return.status == JobStatus.FAILED or (out / "failed.json").exists():
            log.error("job %s failed: %s (see %s)", hc.job.num, what, out / "failed.json")
        else:
            value = job_return._return_value
            score = "no score (needs baseline=true)" if isinstance(value, float) and value != value else f"score {value}"
            log.info("job %s done: %s → %s", hc.job.num, what, score)
        try:
            from rlhf_robotics.robotics.sweep_report import scan_sweep, status_lines

            log.info("sweep progress: %s", status_lines(scan_sweep(hc.sweep.dir))[-1])
        except (OSError, ValueError) as err:
            log.debug("no progress line: %s", err)


def write_run_info(folder: Path, seed: Any) -> None:
    """``folder/run_info.json``: commit, overrides, seed, job number, host, pid, start time, thread caps."""
    hc = HydraConfig.get()
    _write_json(folder / "run_info.json", {
        **git_commit(), "overrides": list(hc.overrides.task), "seed": seed,
        "job_num": hc.job.num if hc.mode == RunMode.MULTIRUN else None,
        "host": socket.gethostname(), "pid": os.getpid(), "started": _now(),
        "threads": {k: os.environ.get(k) for k in THREAD_VARIABLES},
    })


def _run_folders(config: DictConfig) -> list[Path]:
    """Hydra's output folder, and the experiment's ``run_dir`` when that is another folder holding no run yet."""
    out = Path(HydraConfig.get().runtime.output_dir)
    folders = [out]
    run_dir = OmegaConf.select(config, "run_dir", default=None)
    if run_dir and not OmegaConf.select(config, "resume", default=None):
        path = Path(str(run_dir)).resolve()
        if path != out.resolve() and not (path / "preferences.sqlite").exists():
            folders.append(path)
    return folders


def keep_sweep_going(job: Callable[[DictConfig], float]) -> Callable[[DictConfig], float]:
    """Decorate a Hydra task function so that under multirun a failure is recorded in ``failed.json`` and does
    not end the sweep: the basic sweeper gets NaN back (it would re-raise after the batch); other sweepers
    (Optuna) get the error as an exception, which they count against ``max_failure_rate`` instead of stopping
    (a ``SystemExit`` becomes one). A single run is left as it is: its error ends the command."""

    @functools.wraps(job)
    def wrapper(cfg: DictConfig) -> float:
        if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
            return job(cfg)
        try:
            return job(cfg)
        except (Exception, SystemExit) as err:
            # A SystemExit from the CLI's error handling carries the real error as its context.
            cause = err.__context__ if isinstance(err, SystemExit) and err.__context__ is not None else err
            out = Path(HydraConfig.get().runtime.output_dir)
            _write_json(out / "failed.json", {
                "type": type(cause).__name__, "message": str(cause), "overrides": list(HydraConfig.get().overrides.task),
                "traceback": "".join(traceback.format_exception(type(cause), cause, cause.__traceback__)),
                "finished": _now(),
            })
            log.error("%s: %s", type(cause).__name__, cause)
            if str(HydraConfig.get().sweeper.get("_target_", "")).endswith("BasicSweeper"):
                return float("nan")
            # Optuna tells a raised trial FAIL and goes on up to its max_failure_rate; a NaN it cannot store.
            if isinstance(cause, Exception):
                raise cause from None
            raise RuntimeError(f"job exited with {cause!r}") from None

    return wrapper
