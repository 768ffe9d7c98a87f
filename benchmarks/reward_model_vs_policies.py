"""Which policies each loop run's reward model prefers (issue 15): every policy run's final policy plays
``--episodes`` deterministic episodes (as the suite evaluates it), and every reward model scores those episodes'
steps; the result is a matrix of learned reward per step (models × policies) beside each policy's true reward per
step. A failing seed whose reward model scores a passing seed's runner far above its own policy was not failed by
its reward model: its policy is held somewhere the model already ranks lower. One whose model scores its own policy
highest was.

A policy's actions are replayed in the reward model's task from the same reset, so models and policies of task
versions that differ only in observation or objective (e.g. HalfCheetahOneLeg-v1 against -v3) compare on the same
trajectories; the replay's positions are checked against the original (``replay_max_position_error``, 0 where the
dynamics agree) and a mismatch is reported, not hidden.

    .venv/bin/python benchmarks/reward_model_vs_policies.py \\
        --models benchmarks/.work/suite/calibrated/loop_half_cheetah_one_leg_seed{0,2} \\
        --policies benchmarks/.work/suite/calibrated/loop_half_cheetah_one_leg_seed{0,1,2,3}

Writes ``benchmarks/results/reward_model_vs_policies.json`` (``--out``), adding to the rows already there (a model
and policy read again replace their row). About 3 s per 1,000-step episode and model on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, add_runs  # noqa: E402


def play(run_dir: Path, episodes: int, seed: int) -> list[dict[str, Any]]:
    """The run's final policy, deterministic, on env seeds ``seed``, ``seed + 1``, …: per episode its actions, true
    rewards and the simulator's qpos after each step."""
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy, normalised_obs

    e = load_config(run_dir).env
    env = env_factory(e.id, e.kwargs, e.christiano)()
    agent, rms = load_policy(run_dir), load_obs_rms(run_dir)
    out = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        actions, rewards, qpos, done = [], [], [], False
        while not done:
            action, _ = agent.predict(normalised_obs(obs, rms)[None].astype(np.float32), deterministic=True)
            action = np.clip(action[0], env.action_space.low, env.action_space.high)  # type: ignore[attr-defined]
            obs, reward, term, trunc, _ = env.step(action)
            actions.append(action)
            rewards.append(float(reward))
            qpos.append(np.array(env.unwrapped.data.qpos))  # type: ignore[attr-defined]
            done = term or trunc
        out.append({"seed": seed + k, "actions": np.array(actions), "rewards": np.array(rewards),
                    "qpos": np.array(qpos)})
    env.close()
    return out


def replay(env_id: str, kwargs: dict[str, Any], christiano: bool, episode: dict[str, Any]) -> tuple[np.ndarray, float]:
    """``episode``'s actions replayed in ``env_id`` from the same reset: the features a reward model of that task
    sees (observation before each step ⊕ action) and the largest difference of any qpos from the original's."""
    from rlhf_robotics.robotics.physics import env_factory

    env = env_factory(env_id, kwargs, christiano)()
    obs, _ = env.reset(seed=episode["seed"])
    actions = episode["actions"]
    if env.action_space.shape != actions.shape[1:]:
        raise ValueError(f"{env_id} takes actions of shape {env.action_space.shape}, the policy gave "
                         f"{actions.shape[1:]}: compare reward models and policies of the same task")
    features, error = [], 0.0
    for action, qpos in zip(actions, episode["qpos"]):
        features.append(np.concatenate([obs, action]).astype(np.float32))
        obs, _, term, trunc, _ = env.step(action)
        error = max(error, float(np.max(np.abs(np.asarray(env.unwrapped.data.qpos) - qpos))))  # type: ignore[attr-defined]
        if term or trunc:
            break
    env.close()
    return np.array(features), error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", type=Path, required=True, help="loop run folders whose reward models score")
    parser.add_argument("--policies", nargs="+", type=Path, required=True, help="run folders whose final policies play")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=10_000, help="env seed of the first episode")
    parser.add_argument("--out", type=Path, default=RESULTS / "reward_model_vs_policies.json")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: give at least 1")
    for run_dir in [*args.models, *args.policies]:
        if not (run_dir / "config.json").is_file():
            parser.error(f"{run_dir}: not a run directory (no config.json); give a run's folder")
    for run_dir in args.models:
        if not (run_dir / "checkpoints").is_dir():
            parser.error(f"{run_dir}: no checkpoints, so no reward model; give a loop run's folder")
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.saved_run import load_reward_function

    played = {p: play(p, args.episodes, args.seed) for p in args.policies}
    replayed: dict[tuple[str, str, bool, Path], list[tuple[np.ndarray, float]]] = {}  # models of one task share replays
    rows = []
    for m in args.models:
        e = load_config(m).env
        reward = load_reward_function(m)
        print(f"reward model of {m.name} ({e.id}), learned reward per step:")
        for p, episodes in played.items():
            key = (e.id, json.dumps(e.kwargs, sort_keys=True), e.christiano, p)
            if key not in replayed:
                replayed[key] = [replay(e.id, e.kwargs, e.christiano, episode) for episode in episodes]
            learned = [np.asarray(reward(features), dtype=np.float64) for features, _ in replayed[key]]
            error = max(err for _, err in replayed[key])
            row = {"model": str(m), "model_env": e.id, "policy": str(p), "policy_env": load_config(p).env.id,
                   "episodes": args.episodes, "seed": args.seed,
                   "learned_reward_per_step": float(np.concatenate(learned).mean()),
                   "true_reward_per_step": float(np.concatenate([x["rewards"] for x in episodes]).mean()),
                   "replay_max_position_error": error}
            rows.append(row)
            flag = "" if error < 1e-6 else f"  (replay drifted by {error:.3g}: the tasks' dynamics differ)"
            print(f"  {p.name:40s} {row['learned_reward_per_step']:+9.3f}   true {row['true_reward_per_step']:+.3f} "
                  f"({row['policy_env'].split('/')[-1]}){flag}", flush=True)
    add_runs(args.out, "reward_model_vs_policies", argv, rows, key=lambda r: (r["model"], r["policy"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
