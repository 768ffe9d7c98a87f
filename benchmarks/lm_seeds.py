"""The LM track over seeds and tasks (issue 14): every stage's greedy exact match, gold score and KL from SFT,
the reward model's accuracy against gold, and best-of-n against sampling at its temperature, per task, at the
default settings of ``conf/lm`` (only ``tasks`` and the response budget change per task).

The grid: tasks ``arithmetic``, ``arith_steps`` and ``sorting`` at their default difficulty
(``rlhf_robotics.lm.tasks.DIFFICULTY``), seeds 0–2. Seed ``s`` adds ``100·s`` to every stage's own seed (pretrain,
SFT, reward, PPO, DPO, GRPO, RLOO and the evaluation's sampling); the held-out prompts are the same for every seed.
One job is one ``rlhf-robotics lm pipeline`` process (``threads=1``) over its own run directory
``benchmarks/.work/lm_seeds/<task>_s<seed>/``; its ``summary.json`` is copied to
``benchmarks/.work/lm_seeds/<task>_s<seed>.json`` only when the pipeline finishes, so a rerun skips finished jobs
and an interrupted one starts again. Budget: one job takes about 3–6 minutes on one core of this machine under
load (the pipeline's own measure), so the 9 jobs take about 30–60 minutes one at a time.

``--collect`` gathers the finished jobs into ``benchmarks/results/lm_seeds.json``, which ``make_results.py`` turns
into a RESULTS.md section: per task and stage, IQM over seeds with 95 % percentile-bootstrap intervals, through
the same statistics as ``rlhf-robotics report`` (``rlhf_robotics.robotics.sweep_stats``)::

    .venv/bin/python benchmarks/lm_seeds.py                            # the whole grid, resumable, one job at a time
    .venv/bin/python benchmarks/lm_seeds.py --list                     # every job and its state
    .venv/bin/python benchmarks/lm_seeds.py --only task=sorting seed=0 # a part of the grid
    .venv/bin/python benchmarks/lm_seeds.py --collect && .venv/bin/python benchmarks/make_results.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, WORK, pending_jobs, print_jobs, provenance  # noqa: E402

TASKS: dict[str, int] = {"arithmetic": 4, "arith_steps": 10, "sorting": 12}
"""Task → response budget (``max_new_tokens``, EOS included) that fits its longest answer at the default difficulty."""
SEEDS = (0, 1, 2)
STAGE_SEEDS = ("pretrain", "sft", "reward", "ppo", "dpo", "grpo", "rloo", "eval")
"""Stages whose ``seed`` the job's seed shifts."""
SEED_STRIDE = 100


@dataclass(frozen=True)
class Job:
    task: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}_s{self.seed}"

    def overrides(self, run_dir: Path) -> list[str]:
        """The pipeline's Hydra overrides for this job."""
        from rlhf_robotics.cli.lm import compose

        defaults = compose([])
        shifted = [f"{stage}.seed={int(defaults[stage].seed) + SEED_STRIDE * self.seed}" for stage in STAGE_SEEDS]
        return [f"run_dir={run_dir}", f"tasks=[{self.task}]", f"max_new_tokens={TASKS[self.task]}", "threads=1",
                *shifted]


def plan() -> list[Job]:
    return [Job(task, seed) for seed in SEEDS for task in TASKS]


def select(jobs: Sequence[Job], filters: Sequence[str]) -> list[Job]:
    """Jobs matching every ``key=v1,v2`` filter (keys: task, seed)."""
    out = list(jobs)
    for f in filters:
        key, _, values = f.partition("=")
        if key not in ("task", "seed") or not values:
            raise SystemExit(f"--only {f!r}: expected task=NAME[,NAME] or seed=N[,N]")
        wanted = set(values.split(","))
        out = [j for j in out if str(getattr(j, key)) in wanted]
    return out


def run_job(job: Job, work: Path) -> bool:
    """Run one job's pipeline in its own process; True when its result file exists afterwards."""
    run_dir = work / job.key
    cli = Path(sys.executable).parent / "rlhf-robotics"
    command = [str(cli), "lm", "pipeline", *job.overrides(run_dir)]
    start = time.perf_counter()
    with open(work / f"{job.key}.log", "w") as log:
        r = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    summary = run_dir / "summary.json"
    if r.returncode != 0 or not summary.is_file():
        return False
    result = {"task": job.task, "seed": job.seed, "key": job.key, "command": " ".join(command[1:]),
              "job_wall_seconds": time.perf_counter() - start, **json.loads(summary.read_text(encoding="utf-8"))}
    tmp = work / f"{job.key}.json.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(work / f"{job.key}.json")
    return True


def collect(work: Path, out: Path) -> dict[str, Any]:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(work.glob("*.json"))]
    data = {"benchmark": "lm_seeds", "work": str(work), "runs": runs, "jobs_done": len(runs),
            "jobs_in_grid": len(plan()), "tasks": TASKS, "seeds": list(SEEDS), **provenance()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=[], help="filters: task=sorting,arithmetic seed=0,1")
    p.add_argument("--list", action="store_true", help="print every job and whether it has a result")
    p.add_argument("--collect", action="store_true", help="only gather finished results into benchmarks/results/")
    p.add_argument("--work", type=Path, default=WORK / "lm_seeds")
    p.add_argument("--out", type=Path, default=RESULTS / "lm_seeds.json")
    args = p.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    jobs = select(plan(), args.only)
    if args.list:
        print_jobs(jobs, work)
        return 0
    if not args.collect:
        pending = pending_jobs(jobs, work)
        print(f"{len(pending)} of {len(jobs)} jobs to run, one at a time", flush=True)
        for job in pending:
            ok = run_job(job, work)
            print(f"{'done  ' if ok else 'FAILED'} {job.key}" + ("" if ok else f" (log: {work / job.key}.log)"),
                  flush=True)
    data = collect(work, args.out)
    print(f"{data['jobs_done']} of {data['jobs_in_grid']} jobs have results -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
