"""Shared helpers for benchmark scripts: provenance of a results file, the refit settings of published grids."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / ".work"


SYNCHRONOUS_REFIT: tuple[str, ...] = (
    "reward_model.async_training=false", "reward_model.async_relabel=false", "reward_model.async_install_steps=null",
    "reward_model.refit_worker=thread", "reward_model.techniques.stop_accuracy=null")
"""The reward refit every loop benchmark published before issue 13 ran with, as overrides: synchronous refits
between PPO chunks, each member trained its full epochs (no B-Pref stop). Issue 13 made a background refit that
relabels the round's first rollout (``relabel_refit``) PPO's default; benchmarks whose results were published with
the old default pin these so their grids stay reproducible, and arms that study the refit override on top."""


SEGMENT_FIELDS = ("segment_seconds", "segment_steps", "min_segment_steps", "max_segment_steps")
"""The env config's fields that set the loop's clip length (``rlhf_robotics.robotics.schedule.segment_length``)."""


def segments_of(env: Any) -> dict[str, Any]:
    """The clip settings (:data:`SEGMENT_FIELDS`) of ``env``, an ``EnvConfig``."""
    return {k: getattr(env, k) for k in SEGMENT_FIELDS}


def default_segments() -> dict[str, Any]:
    """``EnvConfig``'s clip settings, which every suite loop result made before Dec 4 (none recorded them) ran with
    unless its trial set them."""
    from rlhf_robotics.robotics.config import EnvConfig

    return segments_of(EnvConfig(id=""))


def recorded_segments(result: dict[str, Any]) -> dict[str, Any]:
    """A suite loop result's clip settings: those it records (``loop_segments``), else :func:`default_segments` with
    its trial's ``--set env.…`` overrides of them."""
    if "loop_segments" in result:
        return dict(result["loop_segments"])
    trial = {k.removeprefix("env."): v for k, v in (result.get("loop_overrides") or {}).items()}
    return {**default_segments(), **{k: v for k, v in trial.items() if k in SEGMENT_FIELDS}}


def synchronous_refit(config: Any) -> Any:
    """``config`` (an ``ExperimentConfig``) with :data:`SYNCHRONOUS_REFIT`'s settings."""
    import dataclasses

    rm = config.reward_model
    return dataclasses.replace(config, reward_model=dataclasses.replace(
        rm, async_training=False, async_relabel=False, async_install_steps=None, refit_worker="thread",
        techniques=dataclasses.replace(rm.techniques, stop_accuracy=None)))


def override_item(key: str, value: Any) -> str:
    """One ``suite.py --set`` override as a trial's folder, file and row name show it: ``selection.name=disagreement``
    (a text value unquoted), ``pretrain.steps=0``, ``reward_model.techniques.stop_accuracy=null`` (others as JSON)."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"


def provenance() -> dict[str, object]:
    """Commit, machine and date to store beside every figure."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "commit": commit,
        "working_tree_dirty": dirty,
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def app_url(proc: subprocess.Popen[str], log: list[str]) -> str:
    """The labelling app's address that a ``labels.source=human`` run prints, read from its stdout (each line also
    goes to ``log``); raises ``SystemExit`` with the log's tail if the run ends first."""
    import re

    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the run ended before serving the app:\n" + "".join(log[-40:]))
        log.append(line)
        match = re.search(r"labelling app: (http://\S+)", line)
        if match:
            return match.group(1).rstrip("/")


def write_result(path: Path, result: dict[str, object]) -> None:
    """Write a job's result JSON atomically: its presence means the job finished (a rerun skips it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)


def judged_pairs(run_dir: Path, ids: Sequence[str]) -> tuple[Any, Any, Any]:
    """A loop run's judged pairs among its stored clips ``ids`` (in row order): each pair's first and second clip's
    row and P(first preferred) (ties 0.5; cant_tell and skip left out). Exits naming the folder when it holds no
    ``preferences.sqlite``."""
    import sqlite3

    import numpy as np

    db = run_dir / "preferences.sqlite"
    if not db.is_file():
        raise SystemExit(f"{run_dir}: no preferences.sqlite; give a loop run directory")
    row = {sid: k for k, sid in enumerate(ids)}
    with sqlite3.connect(db) as con:
        judged = con.execute("SELECT q.first, q.second, j.label FROM queries q JOIN judgments j ON j.query_id = q.id "
                             "WHERE j.label IN ('first', 'second', 'equal')").fetchall()
    judged = [(a, b, lab) for a, b, lab in judged if a in row and b in row]
    first = np.array([row[a] for a, _, _ in judged])
    second = np.array([row[b] for _, b, _ in judged])
    target = np.array([{"first": 1.0, "second": 0.0}.get(lab, 0.5) for _, _, lab in judged], dtype=np.float32)
    return first, second, target


def index_ranges(spec: str) -> tuple[int, ...]:
    """``"2-4+8-10"`` → ``(2, 3, 4, 8, 9, 10)``; ``"4"`` → ``(4,)`` (step-feature indices, for
    ``MLPConfig.ignore_inputs``). Raises ValueError on anything else."""
    out: list[int] = []
    for part in spec.split("+"):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return tuple(out)


def add_runs(path: Path, benchmark: str, argv: Sequence[str] | None, rows: list[dict[str, Any]],
             key: Callable[[dict[str, Any]], Any] = lambda r: r["run_dir"]) -> None:
    """Write a reader script's ``rows`` into its results file ``path``, keeping the rows already there except those
    ``rows`` read again (same ``key``: their run directories may exist only where they were made); the command is
    ``benchmarks/<benchmark>.py`` with ``argv`` (None: the process's own)."""
    old = json.loads(path.read_text())["runs"] if path.is_file() else []
    read = {key(r) for r in rows}
    command = f"benchmarks/{benchmark}.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_result(path, {"benchmark": benchmark, "command": command,
                        "runs": [r for r in old if key(r) not in read] + rows, **provenance()})


def print_jobs(jobs: Sequence[Any], work: Path) -> None:
    """``--list``: each job (anything with a ``key``) and whether its result file exists in ``work``."""
    for job in jobs:
        print(f"{'done' if (work / f'{job.key}.json').exists() else 'pending':8} {job.key}")


def pending_jobs(jobs: Sequence[Any], work: Path) -> list[Any]:
    """The jobs without a result file in ``work`` (a rerun skips the finished ones)."""
    return [j for j in jobs if not (work / f"{j.key}.json").exists()]


def superseded(result: Path, env_id: str) -> bool:
    """True when the job result at ``result`` was made on another version of its task than ``env_id`` (the id its
    env config names now): a benchmark then reruns the job instead of counting the old result."""
    return result.exists() and json.loads(result.read_text()).get("env_id") != env_id


def set_aside(result: Path) -> Path:
    """Move a superseded job result to ``superseded/<name>_<version>.json`` beside it (``..._<version>_2.json`` and
    so on when one is there already; kept, never overwritten by the rerun); returns the new path."""
    dest = aside_path(result, json.loads(result.read_text()))
    result.replace(dest)
    return dest


def aside_path(result: Path, run: dict[str, Any]) -> Path:
    """A free ``superseded/<name>_<version>[_k].json`` beside ``result`` for ``run`` (its folder made)."""
    version = str(run.get("env_id", "unknown")).rsplit("-", 1)[-1]
    dest = result.parent / "superseded" / f"{result.stem}_{version}.json"
    dest.parent.mkdir(exist_ok=True)
    k = 2
    while dest.exists() or dest.with_suffix("").exists():  # set aside before (e.g. an earlier budget of this version)
        dest, k = result.parent / "superseded" / f"{result.stem}_{version}_{k}.json", k + 1
    return dest


def seed_from_published(work: Path, published: Path, steps: int) -> int:
    """Write the job files of runs in the published results that ``work`` lacks (same step budget, field
    ``steps``), so a grid continued on a fresh machine does not redo what is already in RESULTS.md; returns how
    many. Never overwrites a job file."""
    if not published.exists():
        return 0
    return sum(restore(run, work / f"{run['job']}.json") for run in json.loads(published.read_text()).get("runs", [])
               if int(run.get("steps", -1)) == steps)


def restore(run: dict[str, Any], path: Path, aside: bool = False) -> bool:
    """Write a published run back into a work folder on a fresh clone, so a benchmark continued there neither redoes
    nor (on ``--collect``) drops it. ``path`` is the run's job file; with ``aside`` the run was set aside (an
    earlier task version, budget or label setting) and goes to ``superseded/`` under :func:`set_aside`'s name,
    unless a run of the same job, version and date is there already. Never overwrites; True when written."""
    if not aside:
        if path.exists():
            return False
        write_result(path, run)
        return True
    version = str(run.get("env_id", "unknown")).rsplit("-", 1)[-1]
    if any(json.loads(p.read_text()).get("date") == run.get("date")
           for p in (path.parent / "superseded").glob(f"{path.stem}_{version}*.json")):
        return False
    write_result(aside_path(path, run), run)
    return True
