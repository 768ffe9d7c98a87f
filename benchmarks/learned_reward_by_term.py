"""What a loop run's learned reward pays for along one physical quantity, beside what the hidden objective pays
(issue 15): the run's final policy plays ``--episodes`` episodes, sampling actions as in training; every step's
learned reward (the run's final reward model on the step's observation ⊕ action) and true reward are standardised
over those steps, and their means are reported per bin of one ``info`` term (``--term``), on the steps that meet
``--where`` (e.g. ``fallen=0``), with the steps that do not meet it as a row of their own.

A learned reward that keeps rising where the objective is flat pays for something the task does not ask: on
AntUprightWalk-v0 the objective pays forward speed up to ``target_speed`` (1 m/s) and nothing beyond, and a loop
policy that runs at 1.7 m/s and flips over on some episodes is read here as a reward model that kept paying speed.

    .venv/bin/python benchmarks/learned_reward_by_term.py benchmarks/.work/suite/calibrated/loop_ant_upright_seed0 \\
        --term x_velocity --edges=-9,0,0.5,1,1.5,2,3,9 --where fallen=0

Writes ``benchmarks/results/learned_reward_by_term.json`` (``--out``), adding to the rows already there (a run read
again with the same term replaces its row); about 10 s per 1,000-step episode on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, add_runs  # noqa: E402

MIN_STEPS = 20
"""A bin with fewer steps reports its count only (its means would be noise)."""


def rollout(run_dir: Path, episodes: int, seed: int, term: str) -> dict[str, np.ndarray]:
    """The final policy's steps (sampled actions): features, true reward and every numeric ``info`` term."""
    import torch
    from gymnasium.spaces import Box

    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy, normalised_obs

    torch.manual_seed(seed)
    e = load_config(run_dir).env
    env = env_factory(e.id, e.kwargs, e.christiano)()
    agent, rms = load_policy(run_dir), load_obs_rms(run_dir)
    space = env.action_space
    assert isinstance(space, Box), f"{e.id}: a Box action space expected, got {space}"
    low, high = space.low, space.high
    features, rewards, infos = [], [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done = False
        while not done:
            action, _ = agent.predict(normalised_obs(obs, rms)[None].astype(np.float32), deterministic=False)
            action = np.clip(action[0], low, high)  # what the env steps with and the loop's features record
            features.append(np.concatenate([obs, action]).astype(np.float32))
            obs, reward, term_, trunc, info = env.step(action)
            rewards.append(float(reward))
            infos.append(info)
            done = term_ or trunc
    env.close()
    if term not in infos[0]:
        numeric = sorted(k for k, v in infos[0].items() if isinstance(v, (bool, int, float, np.floating)))
        raise SystemExit(f"--term {term!r}: {e.id} writes no such info term; it writes {numeric}")
    keys = [k for k, v in infos[0].items() if isinstance(v, (bool, int, float, np.floating, np.integer))]
    return {"features": np.array(features), "true": np.array(rewards),
            **{f"info:{k}": np.array([float(i[k]) for i in infos]) for k in keys}}


def parse_where(where: str | None) -> tuple[str, float] | None:
    if where is None:
        return None
    name, sep, value = where.partition("=")
    try:
        return name, float(value) if sep else float("nan")
    except ValueError:
        raise SystemExit(f"--where {where!r}: give TERM=NUMBER, e.g. fallen=0") from None


def bins(steps: dict[str, np.ndarray], learned: np.ndarray, term: str, edges: list[float],
         where: tuple[str, float] | None) -> list[dict[str, Any]]:
    """Standardised learned and true reward per bin of ``term`` (the steps meeting ``where``), and one row for the
    steps that do not meet it."""
    z_learned = (learned - learned.mean()) / (learned.std() + 1e-12)
    z_true = (steps["true"] - steps["true"].mean()) / (steps["true"].std() + 1e-12)
    keep = np.ones(len(learned), bool)
    if where is not None:
        if f"info:{where[0]}" not in steps:
            raise SystemExit(f"--where {where[0]}=...: no such info term")
        keep = steps[f"info:{where[0]}"] == where[1]
    value = steps[f"info:{term}"]
    rows: list[dict[str, Any]] = []

    def row(label: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
        out = {**label, "steps": int(mask.sum())}
        if mask.sum() >= MIN_STEPS:
            out.update(learned_z=float(z_learned[mask].mean()), true_z=float(z_true[mask].mean()))
        return out

    for lo, hi in zip(edges[:-1], edges[1:]):
        rows.append(row({term: [lo, hi]}, keep & (value >= lo) & (value < hi)))
    if where is not None:
        rows.append(row({"not": f"{where[0]}={where[1]:g}"}, ~keep))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--term", required=True, help="the info term to bin by, e.g. x_velocity")
    parser.add_argument("--edges", required=True, help="bin edges, comma-separated and increasing")
    parser.add_argument("--where", help="only steps with this info term at this value, e.g. fallen=0")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=100, help="env seed of the first episode")
    parser.add_argument("--out", type=Path, default=RESULTS / "learned_reward_by_term.json")
    args = parser.parse_args(argv)
    try:
        edges = [float(x) for x in args.edges.split(",")]
    except ValueError:
        parser.error(f"--edges {args.edges!r}: give numbers separated by commas, e.g. 0,0.5,1")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        parser.error(f"--edges {args.edges!r}: give at least two increasing numbers")
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: give at least 1")
    where = parse_where(args.where)
    from rlhf_robotics.robotics.saved_run import load_reward_function

    rows = []
    for run_dir in args.run_dirs:
        if not (run_dir / "config.json").is_file():
            parser.error(f"{run_dir}: not a run directory (no config.json); give a loop run's folder")
        steps = rollout(run_dir, args.episodes, args.seed, args.term)
        learned = np.asarray(load_reward_function(run_dir)(steps["features"]), dtype=np.float64)
        table = bins(steps, learned, args.term, edges, where)
        rows.append({"run_dir": str(run_dir), "term": args.term, "where": args.where, "episodes": args.episodes,
                     "seed": args.seed, "steps": len(learned), "bins": table})
        print(run_dir.name)
        for r in table:
            label = r[args.term] if args.term in r else f"not {r['not']}"
            means = f"learned {r['learned_z']:+.2f} SD, true {r['true_z']:+.2f} SD" if "learned_z" in r else "too few"
            print(f"  {label}: {r['steps']} steps, {means}", flush=True)
    add_runs(args.out, "learned_reward_by_term", argv, rows, key=lambda r: (r["run_dir"], r["term"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
