"""How fast a replay buffer is relabelled after a reward-model update (issue 12; goal: 1 M transitions in <= 2 s).

One process, one invocation: a HalfCheetah-sized SB3 ``ReplayBuffer`` (17-dim observations, 6-dim actions in a
``[-1, 1]`` box) of ``--transitions`` steps that has wrapped, the loop's default reward ensemble (3 members, 64x64
leaky-ReLU MLPs) as the NumPy :class:`StackedStepReward` the wrapper uses, and per repetition:

- ``relabel``: :func:`rlhf_robotics.robotics.relabel.relabel_replay_buffer` over the whole buffer;
- ``reward_fn_only`` (the baseline): the same reward function over the same features, already concatenated in one
  array, in the same chunks — the compute floor that relabelling cannot beat.

Writes ``benchmarks/results/relabel_rate.json`` with medians over ``--repeats`` and their ratio, the commit, the
machine and the torch/NumPy thread settings. Run it alone (nothing else on the machine)::

    .venv/bin/python benchmarks/relabel_rate.py [--transitions 1000000] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, provenance  # noqa: E402

OBS_DIM, ACT_DIM = 17, 6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--transitions", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the loop's default is 1)")
    p.add_argument("--chunk", type=int, default=65_536)
    p.add_argument("--out", type=Path, default=RESULTS / "relabel_rate.json")
    args = p.parse_args(argv)

    import torch
    from gymnasium import spaces
    from stable_baselines3.common.buffers import ReplayBuffer

    from rlhf_robotics.preference.ensemble import StackedStepReward, build_step_ensemble
    from rlhf_robotics.robotics.relabel import relabel_replay_buffer

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    obs_space = spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
    act_space = spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)
    buffer = ReplayBuffer(args.transitions, obs_space, act_space, device="cpu", optimize_memory_usage=False)
    buffer.observations[:] = rng.normal(size=buffer.observations.shape).astype(np.float32)
    buffer.actions[:] = rng.uniform(-1, 1, size=buffer.actions.shape).astype(np.float32)
    buffer.full, buffer.pos = True, args.transitions // 3  # wrapped: the newest third overwrote the oldest
    reward_fn = StackedStepReward(build_step_ensemble(OBS_DIM + ACT_DIM, 3, seed=0))
    features = np.concatenate([buffer.observations.reshape(-1, OBS_DIM), buffer.actions.reshape(-1, ACT_DIM)], axis=1)

    relabel_s, floor_s = [], []
    for r in range(args.repeats):
        start = time.perf_counter()
        n = relabel_replay_buffer(buffer, reward_fn, act_space, chunk_size=args.chunk)
        relabel_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(0, len(features), args.chunk):
            reward_fn(features[i : i + args.chunk])
        floor_s.append(time.perf_counter() - start)
        print(f"repeat {r + 1}/{args.repeats}: relabel {relabel_s[-1]:.3f} s, reward function only {floor_s[-1]:.3f} s",
              flush=True)
    assert n == args.transitions
    relabel, floor = float(np.median(relabel_s)), float(np.median(floor_s))
    result = {
        "benchmark": "relabel_rate",
        "command": " ".join(["benchmarks/relabel_rate.py", *(argv if argv is not None else sys.argv[1:])]),
        "transitions": args.transitions,
        "obs_dim": OBS_DIM,
        "act_dim": ACT_DIM,
        "ensemble": {"members": 3, "hidden_sizes": [64, 64], "activation": "leaky_relu"},
        "chunk_size": args.chunk,
        "torch_threads": args.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "repeats": args.repeats,
        "relabel_seconds": relabel_s,
        "reward_fn_only_seconds": floor_s,
        "relabel_seconds_median": relabel,
        "reward_fn_only_seconds_median": floor,
        "relabel_over_reward_fn_only_wall_time_ratio": relabel / floor,
        "transitions_relabelled_per_second": args.transitions / relabel,
        "seconds_per_million_transitions": relabel * 1e6 / args.transitions,
        "goal_seconds_per_million_transitions": 2.0,
        "load_average_at_end": os.getloadavg(),
        **provenance(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.transitions} transitions relabelled in {relabel:.3f} s (median of {args.repeats}); reward function "
          f"alone {floor:.3f} s; {result['seconds_per_million_transitions']:.2f} s per million (goal <= 2) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
