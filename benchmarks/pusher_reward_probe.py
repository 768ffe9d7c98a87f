"""Does a PusherGentle loop run's learned reward pay the fingertip for nearing the object, or the loop's own arm
poses? (issue 15). A scripted arm (Jacobian-transpose torques that pull the fingertip toward the object, small
actions) approaches the object along poses the loop's policy may never take; the run's final reward model scores
its steps beside the loop policy's own (``--episodes`` each, actions sampled as in training), per bin of the
fingertip–object distance: the learned reward (the ensemble's normalised output, in its standard deviations), the
members' standard deviation (what RUNE's bonus is β times) and the true step reward.

A reward model that pays distance gives the scripted steps about what it gives the loop's at the same distance;
one that pays the loop's poses gives them less, whatever their true reward. The loop's Pusher policies stop
0.15–0.25 m from the object (benchmarks/NOTES.md, issue 15).

    .venv/bin/python benchmarks/pusher_reward_probe.py benchmarks/.work/suite/calibrated/loop_pusher_gentle_seed0

Writes ``benchmarks/results/pusher_reward_probe.json`` (``--out``), adding to the rows already there (a run read
again replaces its row); a few seconds per run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, add_runs  # noqa: E402
from learned_reward_by_term import MIN_STEPS, rollout  # noqa: E402

EDGES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
"""Fingertip–object distance bins (m)."""


def scripted_approach(env: Any, episodes: int, seed: int, gain: float, damping: float) -> dict[str, np.ndarray]:
    """``episodes`` episodes of torques ``Jᵀ·gain·(object − fingertip) − damping·q̇`` (clipped to the action space,
    plus N(0, 0.05) noise): features (observation ⊕ action), true reward, fingertip–object distance."""
    import mujoco

    u = env.unwrapped
    body = u.model.body("tips_arm").id
    low, high = env.action_space.low, env.action_space.high
    rng = np.random.default_rng(seed)
    features, rewards, distances = [], [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done = False
        while not done:
            jacobian = np.zeros((3, u.model.nv))
            mujoco.mj_jacBody(u.model, u.data, jacobian, None, body)
            pull = gain * (u.get_body_com("object") - u.data.xpos[body])
            torque = jacobian[:, :low.size].T @ pull - damping * u.data.qvel[:low.size]
            action = np.clip(np.clip(torque, low, high) + rng.normal(0.0, 0.05, low.size), low, high)
            features.append(np.concatenate([obs, action]).astype(np.float32))
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(float(reward))
            distances.append(float(info["tip_object_distance"]))
            done = terminated or truncated
    return {"features": np.array(features), "true": np.array(rewards), "distance": np.array(distances)}


def scripted_and_own(run_dir: Path, episodes: int, seed: int, gain: float, damping: float,
                     error: Callable[[str], Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The scripted approach (:func:`scripted_approach`) and the run's final policy (``rollout``), ``episodes`` each
    from env seed ``seed``, on the run's own task; ``error`` (e.g. ``parser.error``) is called with the reason when
    ``run_dir`` is no PusherGentle run."""
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.physics import env_factory

    if not (run_dir / "config.json").is_file():
        error(f"{run_dir}: not a run directory (no config.json); give a PusherGentle loop run's folder")
    e = load_config(run_dir).env
    if "PusherGentle" not in e.id:
        error(f"{run_dir}: a run of {e.id}; give a PusherGentle loop run")
    env = env_factory(e.id, e.kwargs, e.christiano)()
    scripted = scripted_approach(env, episodes, seed, gain, damping)
    env.close()
    return scripted, rollout(run_dir, episodes, seed, "tip_object_distance")


def by_distance(source: np.ndarray, distance: np.ndarray, learned: np.ndarray, member_std: np.ndarray,
                true: np.ndarray) -> list[dict[str, Any]]:
    """Per distance bin and source (``loop``, ``scripted``): steps, mean learned reward, member std, true reward."""
    rows: list[dict[str, Any]] = []
    for lo, hi in zip(EDGES, EDGES[1:]):
        for name in ("loop", "scripted"):
            k = (source == name) & (distance >= lo) & (distance < hi)
            row: dict[str, Any] = {"tip_object_distance": [lo, hi], "source": name, "steps": int(k.sum())}
            if k.sum() >= MIN_STEPS:
                row.update(learned=float(learned[k].mean()), member_std=float(member_std[k].mean()),
                           true=float(true[k].mean()))
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, help="PusherGentle loop run directories")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=100, help="env seed of the first episode")
    parser.add_argument("--gain", type=float, default=3.0, help="the scripted arm's pull (N·m per m)")
    parser.add_argument("--damping", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=RESULTS / "pusher_reward_probe.json")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: give at least 1")
    from rlhf_robotics.robotics.saved_run import load_reward_function

    rows = []
    for run_dir in args.run_dirs:
        scripted, own = scripted_and_own(run_dir, args.episodes, args.seed, args.gain, args.damping, parser.error)
        features = np.concatenate([own["features"], scripted["features"]])
        reward, members = load_reward_function(run_dir).reward_and_members(features)
        source = np.array(["loop"] * len(own["features"]) + ["scripted"] * len(scripted["features"]))
        table = by_distance(source, np.concatenate([own["info:tip_object_distance"], scripted["distance"]]),
                            np.asarray(reward, np.float64), np.asarray(members, np.float64).std(0),
                            np.concatenate([own["true"], scripted["true"]]))
        rows.append({"run_dir": str(run_dir), "episodes": args.episodes, "seed": args.seed, "gain": args.gain,
                     "damping": args.damping, "closest_loop": float(own["info:tip_object_distance"].min()),
                     "closest_scripted": float(scripted["distance"].min()), "bins": table})
        print(run_dir.name)
        for r in table:
            said = (f"learned {r['learned']:+.2f}, member std {r['member_std']:.2f}, true {r['true']:+.3f}"
                    if "learned" in r else "too few")
            print(f"  {r['source']:8s} {r['tip_object_distance']}: {r['steps']} steps, {said}", flush=True)
    add_runs(args.out, "pusher_reward_probe", argv, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
