"""Which terms of a suite task's hidden objective true-reward PPO needs to pass the task's verifier.

PPO is trained, as ``benchmarks/suite.py``'s ``ppo`` arm trains it (the task's PPO settings and budget, one torch
thread), on the task's objective with some keyword arguments changed (``--kwargs '{"landing_reward": 0}'``: the
backflip without its landing bonus), and its final policy is evaluated as the suite evaluates it: 50 deterministic
episodes from env seeds ``seed + 10,000``, the verifier's success rate, and the true return of the *unchanged*
objective beside the changed one's. The verifier does not read the objective's weights, so the success rate compares
directly with the suite's ``ppo`` arm.

Why (issue 15): the loop's learned reward is fitted to segment comparisons and can leave out a term that decides few
of them, e.g. the backflip's landing bonus (one step of 300, in 10-37 of a failing run's 2,000 labelled clips). If
PPO passes without the term, the loop's failures lie elsewhere; if it does not, a learned reward that under-pays the
term cannot be expected to either.

Each seed is one job, resumable: its result is written to ``<work>/<name>_seed<N>.json`` when it has finished and
a rerun skips it; every finished seed is gathered into ``--out``.

    .venv/bin/python benchmarks/objective_ablation.py --task hopper_backflip --kwargs '{"landing_reward": 0}' --jobs 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402
from _common import RESULTS, WORK, provenance  # noqa: E402


def name_of(kwargs: dict[str, Any]) -> str:
    """``{"landing_reward": 0}`` → ``landing_reward=0``: the work folder's and results file's name."""
    return ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(kwargs.items())) or "unchanged"


def run_seed(task: str, kwargs: dict[str, Any], seed: int, steps: int) -> dict[str, Any]:
    """Train PPO on the changed objective for ``steps`` and evaluate its final policy on both objectives."""
    from rlhf_robotics.robotics.evaluation import evaluate_policy
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.policy import obs_rms

    config = suite.experiment_config(suite.Job("ppo", task, seed), steps, suite.LABELS, WORK / "objective_ablation")
    unchanged = config.env.kwargs
    config = replace(config, env=replace(config.env, kwargs={**unchanged, **kwargs}))
    model, venv = suite.true_reward_ppo(config)
    start = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - start
    stats = obs_rms(venv)
    changed = evaluate_policy(model, env_factory(config.env.id, config.env.kwargs, config.env.christiano),
                              suite.EVAL_EPISODES, seed + 10_000, stats)
    true = evaluate_policy(model, env_factory(config.env.id, unchanged, config.env.christiano),
                           suite.EVAL_EPISODES, seed + 10_000, stats)
    venv.close()
    return {"task": task, "env_id": config.env.id, "kwargs": kwargs, "seed": seed, "steps": steps,
            "ppo": asdict(config.ppo), "eval_episodes": suite.EVAL_EPISODES, "success": asdict(true.success),
            "return_changed_objective": asdict(changed.returns), "return_true": asdict(true.returns),
            "wall_seconds_not_a_timing": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help="env config name under conf/env/ (a suite task)")
    parser.add_argument("--kwargs", required=True, help='the objective\'s changed keyword arguments, JSON: \'{"landing_reward": 0}\'')
    parser.add_argument("--seeds", type=int, nargs="+", default=list(suite.SEEDS))
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: the task's budget)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds at a time (2 on a 2-core machine)")
    parser.add_argument("--work", default=None, help="work folder (default benchmarks/.work/objective_ablation/<task>_<kwargs>)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/objective_ablation_<task>_<kwargs>.json)")
    parser.add_argument("--run-seed", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tasks = suite.env_configs()
    if args.task not in tasks:
        parser.error(f"--task {args.task!r} is no suite task; choose one of {', '.join(sorted(tasks))}")
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as exc:
        parser.error(f"--kwargs {args.kwargs!r} is not JSON ({exc}); e.g. --kwargs '{{\"landing_reward\": 0}}'")
    if not isinstance(kwargs, dict) or not kwargs:
        parser.error(f"--kwargs {args.kwargs!r} must be a JSON object naming at least one keyword argument")
    if (args.steps is not None and args.steps < 1) or args.jobs < 1:
        parser.error(f"--steps and --jobs must be >= 1, got {args.steps}, {args.jobs}")
    from rlhf_robotics.robotics.physics import env_factory

    try:  # an unknown keyword fails here, before any training, with the env's own message
        env_factory(tasks[args.task].id, {**tasks[args.task].kwargs, **kwargs})().close()
    except (TypeError, ValueError) as exc:
        parser.error(f"--kwargs {args.kwargs!r}: {exc}")
    steps = suite.budget(args.task, args.steps)
    name = f"{args.task}_{name_of(kwargs)}" + ("" if args.steps is None else f"_steps{steps}")
    work = Path(args.work) if args.work else WORK / "objective_ablation" / name
    out = Path(args.out) if args.out else RESULTS / f"objective_ablation_{name}.json"
    work.mkdir(parents=True, exist_ok=True)
    if args.run_seed is not None:  # one seed, in its own process (PPO holds the GIL while it steps)
        result = run_seed(args.task, kwargs, args.run_seed, steps)
        (work / f"seed{args.run_seed}.json").write_text(json.dumps(result, indent=2))
        print(f"seed {args.run_seed}: success {result['success']['rate']:.2f}, "
              f"true return {result['return_true']['mean']:.0f}", flush=True)
        return 0

    def job(seed: int) -> int:
        if (work / f"seed{seed}.json").exists():  # finished on an earlier run
            return 0
        own = [sys.executable, __file__, "--task", args.task, "--kwargs", args.kwargs, "--steps", str(steps),
               "--work", str(work), "--run-seed", str(seed)]
        return subprocess.run(own, check=False).returncode

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        failed = [seed for seed, rc in zip(args.seeds, pool.map(job, args.seeds)) if rc != 0]
    if failed:
        print(f"seeds {failed} failed (their output is above); a rerun retries them", file=sys.stderr)
    runs = [json.loads(p.read_text()) for p in sorted(work.glob("seed*.json"))]
    runs = [r for r in runs if r["steps"] == steps and r["kwargs"] == kwargs]
    rates = [r["success"]["rate"] for r in runs]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "objective_ablation", "task": args.task, "kwargs": kwargs, "steps": steps,
        "command": " ".join(["python benchmarks/objective_ablation.py", *(sys.argv[1:] if argv is None else argv)]),
        "seeds": [r["seed"] for r in runs], "success_rate_by_seed": rates,
        "success_rate_mean": sum(rates) / len(rates) if rates else None,
        "seeds_passing": sum(rate >= 0.5 for rate in rates), "runs": runs, **provenance()}, indent=2))
    print(f"{len(runs)} seeds in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
