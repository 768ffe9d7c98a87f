"""Our preference loop against plain PPO on the true reward, at equal env steps, on HalfCheetah-v5.

For each seed, one invocation runs the loop with the perfect-oracle teacher (700 labels) and then SB3 PPO on
the true reward with identical PPO settings and steps (the loop's own ``baseline=True``), and records:
the learned-reward policy's true return as a fraction of true-reward PPO's, the labels used, and the wall-time
ratio loop / plain PPO (loop phases: policy learning incl. reward inference, reward-model training,
selection, labelling, checkpoints; PPO: its ``learn`` call), with the per-phase breakdown.

Resumable: finished seeds are kept under benchmarks/.work/loop_vs_ppo/ and skipped.

    .venv/bin/python benchmarks/loop_vs_ppo.py                       # 3 seeds, 200k steps (~8 min on 2 cores)
    .venv/bin/python benchmarks/loop_vs_ppo.py --seeds 0 1 2 3 4 --steps 300000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, WORK, provenance  # noqa: E402

from rlhf_robotics.preference.techniques import TechniquesConfig  # noqa: E402
from rlhf_robotics.robotics.config import (  # noqa: E402
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    RewardModelConfig,
    TeacherSettings,
)
from rlhf_robotics.robotics.loop import run_experiment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--labels", type=int, default=700)
    parser.add_argument("--teacher", default="oracle")
    parser.add_argument("--refit", choices=["async", "sync"], default="sync",
                        help="reward-model refits between PPO chunks (default) or in a background thread beside PPO")
    parser.add_argument("--refit-epochs", type=int, default=RewardModelConfig().refit_epochs,
                        help="most epochs of each warm-started reward refit after the first round")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=None, help="results file (default: benchmarks/results/loop_vs_ppo_<env>_<refit>.json)")
    args = parser.parse_args()
    env_name = args.env.split("/")[-1].split("-")[0].lower()
    args.out = args.out or str(RESULTS / f"loop_vs_ppo_{env_name}_{args.refit}.json")
    work = WORK / "loop_vs_ppo" / f"{args.env.replace('/', '_')}_{args.steps}_{args.labels}_{args.teacher}_{args.refit}_e{args.refit_epochs}"
    runs = []
    for seed in args.seeds:
        run_dir = work / f"seed{seed}"
        summary_path = run_dir / "summary.json"
        if not summary_path.exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished seed is started again
            config = ExperimentConfig(
                env=EnvConfig(id=args.env), labels=LabelsConfig(total=args.labels), teacher=TeacherSettings(preset=args.teacher),
                reward_model=RewardModelConfig(async_training=args.refit == "async", refit_epochs=args.refit_epochs,
                                               async_relabel=False, refit_worker="thread",  # as published
                                               techniques=TechniquesConfig(stop_accuracy=None)),
                total_steps=args.steps, seed=seed, run_dir=str(run_dir), baseline=True, eval_episodes=10, video=False,
            )
            print(f"seed {seed}: running loop + true-reward PPO ({args.steps} steps each)", flush=True)
            run_experiment(config, progress=sys.stderr.isatty())
        s = json.loads(summary_path.read_text())
        w = s["wall_seconds"]
        runs.append({
            "seed": seed,
            "return_true_learned_reward_policy": s["policy_return_true"]["mean"],
            "return_true_ppo_true_reward": s["baseline_return_true"]["mean"],
            "return_true_random_policy": s["random_return_true"]["mean"],
            "fraction_of_true_reward": s["fraction_of_true_reward_ppo"],
            "normalized_score": s["normalized_score"],
            "labels_used": s["labels_used"],
            "reward_model_accuracy_vs_oracle": s["reward_model_accuracy_vs_oracle"],
            "wall_seconds_loop": w["loop_total"],
            "wall_seconds_ppo_true_reward": w["baseline"],
            "wall_time_ratio": w["loop_total"] / w["baseline"],
            "wall_seconds_by_phase": {k: w[k] for k in ("policy_learn", "reward_inference", "reward_training", "selection", "labelling", "checkpoint") if k in w},
        })
        print(json.dumps(runs[-1]), flush=True)
    frac = np.array([r["fraction_of_true_reward"] for r in runs], dtype=float)
    ratio = np.array([r["wall_time_ratio"] for r in runs])
    result = {
        "benchmark": "loop_vs_ppo",
        "command": "python benchmarks/loop_vs_ppo.py " + " ".join(sys.argv[1:]),
        "env_id": args.env, "env_steps_per_arm": args.steps, "reward_refit": args.refit, "refit_epochs": args.refit_epochs, "label_budget": args.labels, "teacher": args.teacher,
        "seeds": args.seeds,
        "fraction_of_true_reward_mean": float(frac.mean()),
        "fraction_of_true_reward_median": float(np.median(frac)),
        "fraction_of_true_reward_min": float(frac.min()),
        "wall_time_ratio_median": float(np.median(ratio)),
        "labels_used_max": max(r["labels_used"] for r in runs),
        "goals": {"fraction_of_true_reward": ">= 0.8 with <= 700 labels", "wall_time_ratio": "<= 1.15"},
        "runs": runs,
        **provenance(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("fraction_of_true_reward_mean", "fraction_of_true_reward_median",
                                             "wall_time_ratio_median", "labels_used_max")}))


if __name__ == "__main__":
    main()
