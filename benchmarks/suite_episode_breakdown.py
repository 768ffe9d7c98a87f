"""What a suite policy does on the episodes its verifier fails and passes (issue 15): for each run directory (a
``benchmarks/suite.py`` job's, or any ``rlhf-robotics`` run of a suite task), its final policy on the grid's own
evaluation episodes (deterministic, env seeds from the run's seed + 10,000), and per episode the mean of every
scalar the task writes to ``info`` and its value on the last step (its rubric terms, e.g. AntUprightWalk's ``x_velocity``, ``uprightness``,
``fallen``), then those means over the passing and over the failing episodes. A loop policy that fails the
verifier by walking too slowly reads differently from one that falls once an episode; which it is decides what
to try next.

    .venv/bin/python benchmarks/suite_episode_breakdown.py benchmarks/.work/rerun_ant_xeon/loop_ant_upright_seed*
    .venv/bin/python benchmarks/suite_episode_breakdown.py RUN_DIRS --bin-by first_distance --edges 0,0.1,0.2,0.3,0.5

Writes ``benchmarks/results/suite_episode_breakdown.json`` (``--out``), adding to the rows already there (a run
read again replaces its row: run directories may exist only on the machine that made them). About a second per
1,000 environment steps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, add_runs  # noqa: E402

EVAL_SEED_OFFSET = 10_000
"""``benchmarks/suite.py`` evaluates a job's policy on env seeds from its seed + 10,000."""


def episode_means(steps: list[dict[str, Any]]) -> dict[str, float]:
    """Each numeric ``info`` key's mean over one episode's steps (bools as 0/1), its value on the last step
    (``final_<key>``: a verifier's "so far" terms, e.g. ReacherSmooth's ``mean_jerk``, are read there) and on the
    first (``first_<key>``: where the episode started, e.g. ReacherSmooth's ``distance``), and the episode's
    length."""
    keys = [k for k, v in steps[0].items()
            if isinstance(v, (bool, int, float, np.floating, np.integer)) and "." not in k]
    means = {k: float(np.mean([float(s[k]) for s in steps if k in s])) for k in keys}
    final = {f"final_{k}": float(steps[-1][k]) for k in keys if k in steps[-1]}
    first = {f"first_{k}": float(steps[0][k]) for k in keys}
    return {**means, **final, **first, "episode_steps": float(len(steps))}


def by_bin(per_episode: list[dict[str, Any]], key: str, edges: list[float]) -> list[dict[str, Any]]:
    """Episodes binned by one per-episode value (e.g. ``first_distance``): how many, the share that passed, and the
    median of every per-episode value."""
    if per_episode and key not in per_episode[0]:
        raise SystemExit(f"--bin-by {key!r}: no such per-episode value; there are {sorted(per_episode[0])}")
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = [e for e in per_episode if lo <= e[key] < hi]
        row: dict[str, Any] = {key: [lo, hi], "episodes": len(inside)}
        if inside:
            row["success"] = float(np.mean([e["success"] for e in inside]))
            row["medians"] = {k: float(np.median([e[k] for e in inside])) for k in inside[0] if k != "success"}
        rows.append(row)
    return rows


def breakdown(run_dir: Path, episodes: int) -> dict[str, Any]:
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.evaluation import evaluate_policy
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy

    config = load_config(run_dir)
    e = config.env
    record: list[list[dict[str, Any]]] = []
    result = evaluate_policy(load_policy(run_dir), env_factory(e.id, e.kwargs, e.christiano), episodes,
                             config.seed + EVAL_SEED_OFFSET, load_obs_rms(run_dir), record=record)
    per_episode = [episode_means(steps) for steps in record]
    passed = [bool(steps[-1].get("is_success", False)) for steps in record]

    def mean_of(rows: list[dict[str, float]]) -> dict[str, float] | None:
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else None

    return {"run_dir": str(run_dir), "env_id": e.id, "seed": config.seed, "episodes": episodes,
            "success": result.success.rate, "return_true_mean": result.returns.mean,
            "passing_episodes_mean": mean_of([r for r, p in zip(per_episode, passed) if p]),
            "failing_episodes_mean": mean_of([r for r, p in zip(per_episode, passed) if not p]),
            "per_episode": [{"success": p, **r} for r, p in zip(per_episode, passed)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per run (the grid's 50)")
    parser.add_argument("--bin-by", help="also bin each run's episodes by this per-episode value, e.g. first_distance")
    parser.add_argument("--edges", help="the bins' edges for --bin-by, comma-separated and increasing")
    parser.add_argument("--out", type=Path, default=RESULTS / "suite_episode_breakdown.json")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: give at least 1")
    edges: list[float] = []
    if args.bin_by is not None:
        try:
            edges = [float(x) for x in (args.edges or "").split(",")]
        except ValueError:
            parser.error(f"--edges {args.edges!r}: give numbers separated by commas, e.g. 0,0.2,0.5")
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            parser.error(f"--edges {args.edges!r}: give at least two increasing numbers with --bin-by")
    rows = []
    for run_dir in args.run_dirs:
        if not (run_dir / "config.json").is_file():
            parser.error(f"{run_dir}: not a run directory (no config.json); give a suite job's or rlhf-robotics run's folder")
        row = breakdown(run_dir, args.episodes)
        if args.bin_by is not None:
            row["bins"] = by_bin(row["per_episode"], args.bin_by, edges)
        rows.append(row)
        fail = row["failing_episodes_mean"] or {}
        ok = row["passing_episodes_mean"] or {}
        print(f"{run_dir.name}: success {row['success']:.2f}; failing vs passing episodes: "
              + ", ".join(f"{k} {fail.get(k, float('nan')):.3g}/{ok.get(k, float('nan')):.3g}"
                          for k in sorted(set(fail) | set(ok)) if not k.startswith("reward_")), flush=True)
        for b in row.get("bins", []):
            print(f"  {args.bin_by} {b[args.bin_by]}: {b['episodes']} episodes"
                  + (f", success {b['success']:.2f}" if b["episodes"] else ""), flush=True)
    add_runs(args.out, "suite_episode_breakdown", argv, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
