"""Off-policy preference learning on the DeepMind Control Suite (issue 12): PEBBLE and SAC with relabelling against
SAC on the true reward and our PPO loop, at equal env steps.

The grid: tasks ``walker_walk`` and ``cheetah_run`` (``rlhf_robotics/dmc-*-v0``), seeds 0–2, arms

- ``sac``: SB3 SAC on the true reward (the reference: "fraction of true-reward SAC");
- ``pebble_1000_oracle``, ``pebble_100_oracle``, ``pebble_1000_mistake``: ``method=pebble`` (B-Pref's schedule
  scaled to the budget: 1,000 seed steps, then state-entropy pre-training until a quarter of the run — 9,000 steps at
  40,000 as B-Pref's walker, 4,000 at 20,000 — critic reset, queries at equal intervals) with the perfect oracle or
  the mistake teacher (ε = 0.1);
- ``sac_relabel_1000_oracle``: ``method=sac_relabel`` (relabelled buffer, no pre-training);
- ``ppo_loop_1000_oracle``: our PPO loop (Christiano's schedule) with the same labels and steps.

Every arm uses SB3's default SAC (256×256 networks, not ``off_policy=bpref``), segments of 50 steps as B-Pref, and
the loop's default reward-model updates (a full first fit, then refits of up to 8 epochs) — not ``method=pebble``'s
50-epoch updates with B-Pref's 97 % stop, which came after this grid started, so that all its runs share settings. Step budget: 20,000 env steps per run (``--steps``). Why: SB3 SAC runs about 84 env steps/s on
one idle core here and about 56 with two jobs side by side (measured: a 12,000-step PEBBLE run took 214 s of learning),
so one SAC-based run takes ≈ 6 min; the 30 SAC-based jobs (5 arms × 2 tasks × 3 seeds) plus 6 PPO-loop jobs take
≈ 1.6 h on 2 cores running 2 jobs at a time, which fits one working session. 40,000 steps (the first plan) would take
≈ 3.5 h. PEBBLE's paper reports 500,000 steps; at 20,000 the figures compare the methods early in learning, not
converged.

Each job is one process in the ``suites`` virtual environment (``benchmarks/.work/suites-venv``, created on first
use: torch 2.13.0, then ``-e .[suites]``, which pins MuJoCo 3.3.0 for dm-control) that writes
``benchmarks/.work/offpolicy_dmc/steps<N>/<job>.json`` only when it finishes; a rerun skips finished jobs. Then
``--collect`` gathers them into ``benchmarks/results/offpolicy_dmc.json``, which ``make_results.py`` turns into a
RESULTS.md section (IQM with 95 % bootstrap CIs of the true return and of the fraction of true-reward SAC, and the
median wall-time ratio against plain SAC at equal steps — only from the jobs named by ``--timed-alone``, when
given: a job timed beside other work is not a timing)::

    .venv/bin/python benchmarks/offpolicy_dmc.py --jobs 2                  # the whole grid, resumable
    .venv/bin/python benchmarks/offpolicy_dmc.py --list                    # every job and its state
    .venv/bin/python benchmarks/offpolicy_dmc.py --jobs 2 --only task=walker_walk seed=0
    .venv/bin/python benchmarks/offpolicy_dmc.py --collect --timed-alone task=cheetah_run seed=1,2 \
        && .venv/bin/python benchmarks/make_results.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    ROOT,
    WORK,
    pending_jobs,
    print_jobs,
    provenance,
    seed_from_published,
    synchronous_refit,
    write_result,
)

DEFAULT_STEPS = 20_000
TASKS: dict[str, str] = {"walker_walk": "rlhf_robotics/dmc-walker-walk-v0", "cheetah_run": "rlhf_robotics/dmc-cheetah-run-v0"}
ARMS: dict[str, dict[str, Any]] = {
    "sac": {"method": None},
    "pebble_1000_oracle": {"method": "pebble", "labels": 1000, "teacher": "oracle"},
    "pebble_100_oracle": {"method": "pebble", "labels": 100, "teacher": "oracle"},
    "pebble_1000_mistake": {"method": "pebble", "labels": 1000, "teacher": "mistake"},
    "sac_relabel_1000_oracle": {"method": "sac_relabel", "labels": 1000, "teacher": "oracle"},
    "ppo_loop_1000_oracle": {"method": "christiano", "labels": 1000, "teacher": "oracle"},
}
SEEDS = (0, 1, 2)
SEED_STEPS = 1000


def pretrain_steps(steps: int) -> int:
    """PEBBLE's unsupervised steps: seed steps plus pre-training fill a quarter of the run (B-Pref's walker: 1,000 +
    9,000 of 40,000 before its 500,000-step run's first query)."""
    return max(0, steps // 4 - SEED_STEPS)
SUITES_VENV = WORK / "suites-venv"


@dataclass(frozen=True)
class Job:
    arm: str
    task: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.arm}_{self.task}_seed{self.seed}"


def plan(seeds: Sequence[int] = SEEDS) -> list[Job]:
    return [Job(arm, task, seed) for task in TASKS for seed in seeds for arm in ARMS]  # walker_walk first


def select(jobs: Sequence[Job], only: Sequence[str]) -> list[Job]:
    """Jobs whose fields match every ``field=v1,v2`` filter (fields: arm, task, seed)."""
    keep = list(jobs)
    for item in only:
        field, sep, values = item.partition("=")
        if not sep or field not in ("arm", "task", "seed"):
            raise SystemExit(f"--only {item!r}: expected arm=..., task=... or seed=... (comma-separated values)")
        allowed = set(values.split(","))
        keep = [j for j in keep if str(getattr(j, field)) in allowed]
    return keep


def experiment_config(job: Job, steps: int, run_dir: Path) -> Any:
    """The :class:`ExperimentConfig` of a loop arm: the method preset's settings, as ``method=<name>`` sets them."""
    from rlhf_robotics.robotics.config import (
        EnvConfig,
        ExperimentConfig,
        LabelsConfig,
        OffPolicyConfig,
        PretrainConfig,
        TeacherSettings,
    )

    arm = ARMS[job.arm]
    env = EnvConfig(id=TASKS[job.task], n_envs=1, segment_steps=50)
    teacher = TeacherSettings(preset=arm["teacher"])
    common = dict(env=env, teacher=teacher, total_steps=steps, seed=job.seed, run_dir=str(run_dir), baseline=False,
                  eval_episodes=10, video=False, device="cpu")
    # every arm with the refit the grid ran with (synchronous, no B-Pref stop; the default before issue 13)
    if arm["method"] == "christiano":
        return synchronous_refit(ExperimentConfig(labels=LabelsConfig(total=arm["labels"]), **common))  # type: ignore[arg-type]
    equal_rounds = LabelsConfig(total=arm["labels"], initial_fraction=0.1, rounds=9, schedule_timescale=1e9)
    if arm["method"] == "pebble":
        return synchronous_refit(ExperimentConfig(
            labels=equal_rounds, algo="sac", off_policy=OffPolicyConfig(learning_starts=SEED_STEPS),
            pretrain=PretrainConfig(steps=pretrain_steps(steps)), **common))  # type: ignore[arg-type]
    return synchronous_refit(ExperimentConfig(labels=equal_rounds, algo="sac", **common))  # type: ignore[arg-type]


def run_job(job: Job, steps: int, work: Path) -> dict[str, Any]:
    """Run one job in this process; returns its result record."""
    import torch

    torch.set_num_threads(1)
    run_dir = work / "runs" / job.key
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    if ARMS[job.arm]["method"] is None:  # SAC on the true reward
        from rlhf_robotics.robotics.config import EnvConfig, ExperimentConfig
        from rlhf_robotics.robotics.evaluation import evaluate_true_return
        from rlhf_robotics.robotics.physics import env_factory
        from rlhf_robotics.robotics.policy import make_agent, make_vec_env

        config = ExperimentConfig(env=EnvConfig(id=TASKS[job.task], n_envs=1), algo="sac", total_steps=steps,
                                  seed=job.seed, run_dir=str(run_dir), device="cpu")
        venv = make_vec_env(config, job.seed)
        model = make_agent(config, venv, job.seed, "cpu")
        model.learn(steps)
        stats = evaluate_true_return(model, env_factory(config.env.id), 10, job.seed + 10_000)
        result: dict[str, Any] = {"return_true": stats.mean, "return_true_std": stats.std}
    else:
        from rlhf_robotics.robotics.loop import run_experiment

        summary = run_experiment(experiment_config(job, steps, run_dir), progress=False)
        result = {"return_true": summary.policy_return_true.mean, "return_true_std": summary.policy_return_true.std,
                  "labels_used": summary.labels_used, "reward_model_accuracy_vs_oracle": summary.reward_model_accuracy_vs_oracle,
                  "wall_seconds_by_phase": summary.wall_seconds}
    return {"job": job.key, "arm": job.arm, "task": job.task, "env_id": TASKS[job.task], "seed": job.seed, "steps": steps,
            "wall_seconds": time.perf_counter() - start, "commit": provenance()["commit"], **result}


def ensure_suites_venv(venv: Path = SUITES_VENV) -> Path:
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import dm_control, rlhf_robotics"]).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[suites]"], check=True)
    return python


def launch(job: Job, steps: int, work: Path, python: Path) -> bool:
    """Run ``job`` in its own process; True when its result file exists afterwards."""
    out = work / f"{job.key}.json"
    log = work / f"{job.key}.log"
    with open(log, "w") as f:
        r = subprocess.run([str(python), __file__, "--run-job", job.key, "--steps", str(steps), "--work", str(work)],
                           stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return r.returncode == 0 and out.exists()


def collect(work: Path, out: Path, note: str = "", timed_alone: Sequence[str] | None = None) -> dict[str, Any]:
    """Gather the finished jobs into ``out``. ``timed_alone`` (``--only``-style filters) names the jobs that ran with
    nothing else on the machine; when given, only their wall-time ratios are reported (the others' are not a timing)."""
    runs = [json.loads(p.read_text()) for p in sorted(work.glob("*.json"))]
    alone: dict[str, Any] = {}
    if timed_alone is not None:
        done = {r["job"] for r in runs}
        alone = {"timed_alone": sorted(j.key for j in select(plan(), timed_alone) if j.key in done)}
    data = {"benchmark": "offpolicy_dmc", "work": str(work), "runs": runs, "jobs_done": len(runs), "note": note, **alone,
            "jobs_in_grid": len(plan()), "arms": ARMS, "tasks": TASKS, "seeds": list(SEEDS), **provenance()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--jobs", type=int, default=2, help="jobs at a time (one core each)")
    p.add_argument("--only", nargs="*", default=[], help="filters: arm=a,b task=walker_walk seed=0,1")
    p.add_argument("--list", action="store_true", help="print every job and whether it has a result")
    p.add_argument("--collect", action="store_true", help="only gather finished results into benchmarks/results/")
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--note", default="", help="a sentence the RESULTS.md section prints (e.g. how the runs were timed)")
    p.add_argument("--timed-alone", nargs="*", default=None, metavar="FIELD=V[,V]",
                   help="the jobs that ran with nothing else on the machine (filters as --only); only their wall-time "
                        "ratios are reported")
    p.add_argument("--run-job", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    work = args.work or WORK / "offpolicy_dmc" / f"steps{args.steps}"
    work.mkdir(parents=True, exist_ok=True)
    if args.run_job:
        job = next((j for j in plan() if j.key == args.run_job), None)
        if job is None:
            raise SystemExit(f"no job {args.run_job!r}; see --list")
        result = run_job(job, args.steps, work)
        write_result(work / f"{job.key}.json", result)
        return 0
    seeded = seed_from_published(work, RESULTS / "offpolicy_dmc.json", args.steps)
    if seeded:
        print(f"{seeded} finished jobs taken from {RESULTS / 'offpolicy_dmc.json'} (this work folder did not have them)")
    jobs = select(plan(), args.only)
    if args.list:
        print_jobs(jobs, work)
        return 0
    if not args.collect:
        pending = pending_jobs(jobs, work)
        python = ensure_suites_venv()
        print(f"{len(pending)} of {len(jobs)} jobs to run, {args.jobs} at a time, {args.steps} steps each", flush=True)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for job, ok in zip(pending, pool.map(lambda j: launch(j, args.steps, work, python), pending)):
                print(f"{'done  ' if ok else 'FAILED'} {job.key}" + ("" if ok else f" (log: {work / job.key}.log)"), flush=True)
    data = collect(work, RESULTS / "offpolicy_dmc.json", args.note, args.timed_alone)
    print(f"{data['jobs_done']} of {data['jobs_in_grid']} jobs have results -> {RESULTS / 'offpolicy_dmc.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
