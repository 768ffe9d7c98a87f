"""Overhead of our preference loop against plain PPO at equal env steps, by phase.

Each repetition runs, in this one process and with one torch thread, plain SB3 PPO on the true reward and our
loop with the perfect-oracle teacher (``baseline=False``) at the same env steps, seed and PPO settings; the order
alternates between repetitions (PPO first on even ones) so that a slow patch of the machine does not always hit
the same arm. Reported per repetition and as medians:

- ``ppo_seconds``: plain PPO's ``learn`` call;
- the loop's phases (``Summary.wall_seconds``): ``rollouts_and_ppo_updates`` (= ``policy_learn`` −
  ``reward_inference``: env stepping, PPO's updates and the initial policy's rollouts), ``reward_inference``
  (the learned reward in the vec-env wrapper, on the hot path), ``reward_training`` (waiting for the refit;
  with asynchronous refits the refit runs in a background thread beside PPO, whose own duration is
  ``reward_training_background`` and is not added to the total), ``selection``, ``labelling`` (the synthetic
  teacher and the store), ``checkpoint``; ``loop_total`` is their sum without the background thread;
- ``wall_time_ratio`` = ``loop_total`` / ``ppo_seconds`` (goal ≤ 1.15) and ``cpu_time_ratio`` (process CPU
  seconds of the loop's run over PPO's, evaluation excluded for PPO, included for the loop's final evaluation
  — see ``cpu_seconds_*``), since on a shared machine CPU time is steadier than wall time; and
  ``main_process_cpu_time_ratio``, the same with the loop's own process only (a worker process's refit left out):
  with the refit on the second core, the closest steady figure to the wall-time ratio (Dec 3: plain PPO alone took
  49 to 63 s across three repetitions of one invocation, so wall ratios moved by ±0.1 with the neighbours).

    .venv/bin/python benchmarks/overhead.py --out benchmarks/results/overhead_default.json   # the loop's defaults
    .venv/bin/python benchmarks/overhead.py --refit sync --out benchmarks/results/overhead_sync.json   # before issue 13
    .venv/bin/python benchmarks/overhead.py --refit async --out benchmarks/results/overhead.json
    .venv/bin/python benchmarks/overhead.py --workers 2 --out benchmarks/results/overhead_sync_workers2.json
    .venv/bin/python benchmarks/overhead.py --refit async --refit-worker process --stop-accuracy 0.97 \
        --out benchmarks/results/overhead_process_stop97.json     # the refit on the second core, B-Pref's stop
    .venv/bin/python benchmarks/overhead.py --refit async --refit-worker process --stop-accuracy 0.97 \
        --install-steps 4096 --out benchmarks/results/overhead_process_stop97_install4096.json   # taken over 2 rollouts in
    .venv/bin/python benchmarks/overhead.py --refit async --refit-worker process --stop-accuracy 0.97 \
        --install-steps 0 --relabel --out benchmarks/results/overhead_process_stop97_relabel.json   # the first rollout relabelled

``--refit default`` (the default) runs the loop with the package's reward-model settings (since issue 13, PPO's
default is the background refit in a worker process with B-Pref's stop, taken over at the end of each round's first
rollout, which is relabelled); ``--refit sync`` and ``--refit async`` start from the settings before issue 13
(synchronous or round-late thread refits, no stop), so the commands of the older results files still reproduce
them; the other flags override either. The results file records the settings the loop actually ran with.

The reward model's cost hardly depends on the env steps (10 refits of a 3-member ensemble on all comparisons so
far), PPO's grows with them, so the ratio falls as ``--steps`` grows: compare ratios at equal steps only. Run it
alone on the machine: with asynchronous refits the refit thread uses the second core when it is free.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, WORK, provenance  # noqa: E402

PHASES = ("rollouts_and_ppo_updates", "reward_inference", "reward_training", "selection", "labelling", "checkpoint",
          "loop_total", "reward_training_background")


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children: a refit worker process (``--refit-worker
    process``) is shut down at the end of its run, so its training counts in the loop's CPU time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main_process_cpu_seconds() -> float:
    """CPU seconds of this process alone: with the refit in a worker process, the loop's own share of the work (its
    wall time less any wait for the refit), steadier than wall time on a machine whose neighbours come and go."""
    t = os.times()
    return t.user + t.system


def run_ppo(env_id: str, steps: int, seed: int) -> tuple[float, float]:
    """Plain PPO on the true reward (``gym.make`` + ``Monitor`` in a ``DummyVecEnv``, ``VecNormalize``), built as
    the loop's baseline is: (wall seconds of learn, CPU seconds)."""
    from rlhf_robotics.robotics.config import EnvConfig, ExperimentConfig
    from rlhf_robotics.robotics.policy import make_ppo, make_vec_env, normalize

    config = ExperimentConfig(env=EnvConfig(id=env_id), total_steps=steps, seed=seed, device="cpu")
    venv = normalize(make_vec_env(config, seed), config.ppo)
    model = make_ppo(config.ppo, venv, seed, "cpu")
    cpu, start = cpu_seconds(), time.perf_counter()
    model.learn(steps)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    venv.close()
    return wall, cpu


def loop_config(env_id: str, steps: int, seed: int, labels: int, teacher: str, refit: str, run_dir: Path,
                settings: dict[str, Any]) -> Any:
    """The loop's ``ExperimentConfig`` (no baseline): ``refit`` ``default`` takes the package's reward-model settings,
    ``sync``/``async`` those before issue 13 (synchronous or round-late thread refits, no B-Pref stop); ``settings``
    (``RewardModelConfig`` fields, ``stop_accuracy`` and ``workers``) override either."""
    import dataclasses

    from rlhf_robotics.robotics.config import (
        EnvConfig,
        ExperimentConfig,
        LabelsConfig,
        RewardModelConfig,
        TeacherSettings,
    )

    rm = RewardModelConfig()
    if refit != "default":
        rm = dataclasses.replace(rm, async_training=refit == "async", async_relabel=False, refit_worker="thread",
                                 techniques=dataclasses.replace(rm.techniques, stop_accuracy=None))
    settings = dict(settings)
    if "stop_accuracy" in settings:
        rm = dataclasses.replace(rm, techniques=dataclasses.replace(rm.techniques, stop_accuracy=settings.pop("stop_accuracy")))
    if "workers" in settings:
        rm = dataclasses.replace(rm, trainer=dataclasses.replace(rm.trainer, workers=settings.pop("workers")))
    return ExperimentConfig(
        env=EnvConfig(id=env_id), labels=LabelsConfig(total=labels), teacher=TeacherSettings(preset=teacher),
        reward_model=dataclasses.replace(rm, **settings), total_steps=steps, seed=seed,
        run_dir=str(run_dir), baseline=False, video=False, eval_episodes=1, device="cpu",
    )


def run_loop(config: Any) -> tuple[dict[str, float], float, float]:
    """Our loop without its baseline: (phase seconds, CPU seconds of the whole run incl. its final evaluation and
    the worker's, CPU seconds of this process alone)."""
    from rlhf_robotics.robotics.loop import run_experiment

    shutil.rmtree(config.run_dir, ignore_errors=True)
    cpu, main_cpu = cpu_seconds(), main_process_cpu_seconds()
    w = run_experiment(config, progress=False).wall_seconds
    cpu, main_cpu = cpu_seconds() - cpu, main_process_cpu_seconds() - main_cpu
    phases = {
        "rollouts_and_ppo_updates": w.get("policy_learn", 0.0) - w.get("reward_inference", 0.0),
        **{k: w.get(k, 0.0) for k in ("reward_inference", "reward_training", "selection", "labelling", "checkpoint",
                                      "loop_total", "reward_training_background")},
    }
    return phases, cpu, main_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--steps", type=int, default=204_800, help="env steps per arm (default: label_efficiency's "
                        "budget; a multiple of 10 x 2048 ends every label round on a whole PPO rollout)")
    parser.add_argument("--labels", type=int, default=700)
    parser.add_argument("--teacher", default="oracle")
    parser.add_argument("--refit", choices=["default", "sync", "async"], default="default",
                        help="default: the package's reward-model settings; sync: refits between PPO chunks, async: "
                             "in a thread beside PPO, one round late (both as before issue 13: no B-Pref stop)")
    parser.add_argument("--workers", type=int, default=None,
                        help="reward_model.trainer.workers: ensemble members trained at once in threads")
    parser.add_argument("--refit-worker", choices=["thread", "process"], default=None,
                        help="reward_model.refit_worker (process: the second core trains a background refit)")
    parser.add_argument("--stop-accuracy", type=float, default=None,
                        help="reward_model.techniques.stop_accuracy (B-Pref's early stop, e.g. 0.97)")
    parser.add_argument("--install-steps", type=int, default=None,
                        help="with --refit async: reward_model.async_install_steps (the refit takes over this many env "
                             "steps into the round, not at its end)")
    parser.add_argument("--relabel", action="store_true",
                        help="with --install-steps: reward_model.async_relabel (the refit takes over at the end of a "
                             "rollout, which is relabelled before PPO learns from it)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "overhead_default.json"))
    args = parser.parse_args(argv)
    if args.reps < 1 or args.steps < 1:
        parser.error(f"--reps and --steps must be >= 1, got {args.reps} and {args.steps}")
    if args.refit_worker == "process" and args.refit == "sync":
        parser.error("--refit-worker process needs a background refit (a synchronous refit runs in this process)")
    if args.install_steps is not None and (args.refit == "sync" or args.install_steps < 0):
        parser.error(f"--install-steps {args.install_steps}: needs a background refit and a step count >= 0")
    settings: dict[str, Any] = {k: v for k, v in (
        ("workers", args.workers), ("refit_worker", args.refit_worker), ("stop_accuracy", args.stop_accuracy),
        ("async_install_steps", args.install_steps), ("async_relabel", args.relabel or None)) if v is not None}
    try:  # bad settings stop here, before any run
        rm = loop_config(args.env, args.steps, 0, args.labels, args.teacher, args.refit, WORK / "overhead" / "rep0",
                         settings).reward_model
    except ValueError as err:
        parser.error(str(err))
    import torch

    torch.set_num_threads(1)
    reps: list[dict[str, Any]] = []
    for r in range(args.reps):
        run_dir = WORK / "overhead" / f"rep{r}"
        def loop() -> tuple[dict[str, float], float, float]:
            return run_loop(loop_config(args.env, args.steps, r, args.labels, args.teacher, args.refit,  # noqa: B023
                                        run_dir, settings))  # noqa: B023

        if r % 2 == 0:
            ppo_wall, ppo_cpu = run_ppo(args.env, args.steps, seed=r)
            phases, loop_cpu, loop_main_cpu = loop()
        else:
            phases, loop_cpu, loop_main_cpu = loop()
            ppo_wall, ppo_cpu = run_ppo(args.env, args.steps, seed=r)
        rep = {"seed": r, "order": "ppo first" if r % 2 == 0 else "loop first", "ppo_seconds": ppo_wall, "phases": phases,
               "wall_time_ratio": phases["loop_total"] / ppo_wall, "cpu_seconds_ppo": ppo_cpu, "cpu_seconds_loop": loop_cpu,
               "cpu_seconds_loop_main_process": loop_main_cpu,
               "cpu_time_ratio": loop_cpu / ppo_cpu, "main_process_cpu_time_ratio": loop_main_cpu / ppo_cpu}
        reps.append(rep)
        print(json.dumps(rep), flush=True)
    result = {
        "benchmark": "overhead",
        "command": ("python benchmarks/overhead.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip(),
        "env_id": args.env, "steps": args.steps, "labels": args.labels, "teacher": args.teacher,
        "settings_from": "the package's defaults" if args.refit == "default" else "the settings before issue 13",
        # the reward-model settings the loop ran with (resolved for PPO)
        "refit": "async" if rm.async_training else "sync", "refit_epochs": rm.refit_epochs,
        "trainer_workers": rm.trainer.workers, "refit_worker": rm.refit_worker,
        "stop_accuracy": rm.techniques.stop_accuracy, "async_install_steps": rm.async_install_steps,
        "async_relabel": rm.async_relabel,
        "order": "alternating: PPO first on even repetitions, the loop first on odd ones",
        "repetitions": reps,
        "phase_medians_seconds": {k: float(np.median([rep["phases"][k] for rep in reps])) for k in PHASES},
        "ppo_seconds_median": float(np.median([rep["ppo_seconds"] for rep in reps])),
        "wall_time_ratio_median": float(np.median([rep["wall_time_ratio"] for rep in reps])),
        "cpu_time_ratio_median": float(np.median([rep["cpu_time_ratio"] for rep in reps])),
        "main_process_cpu_time_ratio_median": float(np.median([rep["main_process_cpu_time_ratio"] for rep in reps])),
        "goal": {"wall_time_ratio": "<= 1.15"},
        **provenance(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("ppo_seconds_median", "wall_time_ratio_median", "cpu_time_ratio_median",
                                             "phase_medians_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
