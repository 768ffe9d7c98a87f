"""The suite benchmark's results file (``benchmarks/suite.py`` writes ``benchmarks/results/suite.json``) as the
gallery reads it: per task, the seed of one arm with the highest true return whose run directory still holds its
final policy (``rlhf-robotics gallery benchmark=...``). The calibration benchmark's file
(``benchmarks/results/suite_calibration.json``, PPO on each task's true reward) is read as its ``ppo`` arm.

Each run of the file records ``run_dir``: relative to the repository root when the run lies inside it (the
default work folder, ``benchmarks/.work/suite/``), absolute otherwise. A relative one is read from the current
folder, so run the gallery from the repository root, as every command of the README.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Arm = Literal["loop", "ppo"]
"""An arm of the suite benchmark: ``loop`` (our loop, rubric teacher) or ``ppo`` (PPO on the true reward)."""

SUITE_COMMAND = "python benchmarks/suite.py --jobs 2"
"""The command that runs the suite benchmark and writes its results file."""


class SuiteResultsError(ValueError):
    """A results file the gallery cannot use: missing, not the suite's, or with no final policy left to show."""


@dataclass(frozen=True)
class BestRun:
    """One task's best seed of an arm, whose final policy the gallery shows."""

    task: str
    """Env config name (``hopper_backflip``)."""
    seed: int
    return_true: float
    """Mean true return of the run's evaluation episodes, as the results file records it."""
    run_dir: Path
    passed_over: tuple[int, ...] = ()
    """Seeds with a higher return whose run directory holds no final policy any more."""


@dataclass(frozen=True)
class SkippedTask:
    """A task of the results file with nothing to show, and why."""

    task: str
    reason: str


def read_suite_results(path: Path) -> dict[str, Any]:
    """The parsed results file; a :class:`SuiteResultsError` names the path and what to run when it is missing or
    is not the suite benchmark's."""
    if not path.is_file():
        raise SuiteResultsError(f"benchmark={path}: no such file; run `{SUITE_COMMAND}` (or `python "
                                "benchmarks/suite.py --collect` after some jobs) to write benchmarks/results/suite.json")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        data = {"error": str(err)}
    if (not isinstance(data, dict) or data.get("benchmark") not in ("suite", "suite_calibration")
            or not isinstance(data.get("runs"), list)):
        raise SuiteResultsError(f"benchmark={path}: not a results file of the suite benchmark (no \"benchmark\": "
                                f"\"suite\" with its runs); give the file `{SUITE_COMMAND}` writes, "
                                "benchmarks/results/suite.json by default, or benchmarks/results/suite_calibration.json")
    return calibration_as_suite(data) if data["benchmark"] == "suite_calibration" else data


def calibration_as_suite(data: Mapping[str, Any]) -> dict[str, Any]:
    """The calibration benchmark's results (``benchmarks/suite_calibration.py``: PPO on each task's true reward,
    a learning curve per seed) in the suite file's shape: its finished runs of each task's current version as
    ``ppo`` runs, with the last evaluation's mean true return. Superseded versions and unfinished runs (no final
    policy yet) are left out."""
    current = {task: row["env_id"] for task, row in data.get("tasks", {}).items() if "superseded" not in task}
    runs = [{"job": {"arm": "ppo", "task": r["task"], "seed": r["seed"]},
             "return_true": {"mean": r["curve"][-1]["return_true"]}, "steps": r["curve"][-1]["steps"],
             **({"run_dir": r["run_dir"]} if r.get("run_dir") else {})}
            for r in data["runs"]
            if r.get("finished", True) and r["curve"] and current.get(r["task"]) == r["env_id"]]
    return {"benchmark": "suite_calibration", "tasks": {task: {"env_id": env_id} for task, env_id in current.items()},
            "runs": runs}


def final_policy_missing(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot show a final policy (the gallery's :func:`policy_act` reads ``config.json`` and the
    checkpoint ``checkpoints/latest.json`` names), or None when it can."""
    if not run_dir.is_dir():
        return f"run directory {run_dir} is gone"
    if not (run_dir / "config.json").is_file():
        return f"{run_dir} holds no run (no config.json)"
    if not (run_dir / "checkpoints" / "latest.json").is_file():
        return f"{run_dir} kept no final policy (no checkpoints/latest.json)"
    return None


def _why_not(run: Mapping[str, Any]) -> str | None:
    if not run.get("run_dir"):
        return "no run_dir recorded (a result from before the suite kept final policies; rerun the job)"
    return final_policy_missing(Path(run["run_dir"]))


def best_runs(results: Mapping[str, Any], arm: Arm) -> tuple[list[BestRun], list[SkippedTask]]:
    """Per task of ``results`` (a parsed suite results file, in its task order), the ``arm`` run with the highest
    mean true return among those whose run directory still holds a final policy; a task without one is skipped,
    with the reason."""
    runs = [r for r in results["runs"] if r["job"]["arm"] == arm]
    tasks = list(results.get("tasks") or {}) + sorted({r["job"]["task"] for r in runs} - set(results.get("tasks") or {}))
    best, skipped = [], []
    for task in tasks:
        ranked = sorted((r for r in runs if r["job"]["task"] == task), key=lambda r: -float(r["return_true"]["mean"]))
        if not ranked:
            skipped.append(SkippedTask(task, f"no finished {arm} run in the results"))
            continue
        missing: dict[int, str] = {}
        for run in ranked:
            seed, why = int(run["job"]["seed"]), _why_not(run)
            if why is None:
                best.append(BestRun(task, seed, float(run["return_true"]["mean"]), Path(run["run_dir"]),
                                    tuple(missing)))
                break
            missing[seed] = why
        else:
            top = int(ranked[0]["job"]["seed"])
            skipped.append(SkippedTask(task, f"none of its {len(ranked)} {arm} runs kept a final policy here "
                                             f"(best, seed {top}: {missing[top]})"))
    return best, skipped
