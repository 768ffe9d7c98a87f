"""Why the loop does not learn the backflip although its reward model scores well (issue 15), read from finished
runs: what the labelled clips contained, what the policy does, and what the learned reward pays for.

``benchmarks/backflip_reward_model.py`` showed that HopperBackflip-v2's objective is a function of one step's
observation and action, and the loop's reward model on v2 reaches 0.88–0.94 accuracy against the oracle and a
0.87–0.92 step-reward correlation (v0: 0.82 and 0.39). Yet the policy taught by it turns past a full flip and lies
down. This script reads a loop run directory (``rlhf-robotics env=hopper_backflip ...``, or a
``benchmarks/suite.py`` loop job) and reports five things:

- **label schedule**: labels asked per round (round 0 on the initial policy), from the run's ``config.json``;
- **clips**: per label round, the stored segments, how many contain a landing (``reward_landing`` > 0), and the
  share that turn further back than half a turn and than a full turn;
- **policy**: ``--episodes`` stochastic (as in training) episodes of the final policy: landings, turns, final
  torso height, verifier successes;
- **learned reward**: the run's final reward model on its last rounds' segments, per state class — airborne and
  turning back with the flip's allowance left (the paid rotation), airborne and turning back past the allowance
  (paid nothing by the objective: the over-rotation v2 took away), on the ground — the mean reward of the class
  minus the on-ground mean, in standard deviations of the learned and of the true step reward. Where the learned
  difference for "past the allowance" is positive while the true one is not, the learned reward still pays the
  over-rotation the objective stopped paying;
- **landing clips**: the final reward model's return for every labelled clip holding a landing against the other
  labelled clips (the teacher prefers nearly every landing clip); a model that scores them lower has not learned
  the landing its labels hold.
- **by rotation left**: on every labelled clip, the final learned and the true step reward of a flip under way,
  binned by what is left of the flip's rotation (index 13): the objective pays each radian alike, and a learned
  reward that pays a flip's last radian less than its first makes the policy give flips up part-way.

    .venv/bin/python benchmarks/backflip_loop_diagnosis.py benchmarks/.work/suite/steps500000/loop_hopper_backflip_seed0

Writes ``benchmarks/results/backflip_loop_diagnosis.json`` (``--out``), adding to the rows already there (a run
read again replaces its row; the others stay, since their run directories may exist only where they were made);
a few seconds per run directory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, provenance, write_result  # noqa: E402

ALLOWANCE_INDEX, REGAIN_INDEX, AIRBORNE_INDEX = 13, 11, 12
"""HopperBackflip-v2's and v3's observation: what is left of the flip's rotation allowance, rotation to regain, and
whether the hopper is in the air."""


def segment_files(run_dir: Path) -> list[Path]:
    files = sorted((run_dir / "segments").glob("*.npz"))
    if not files:
        raise SystemExit(f"{run_dir}: no stored segments (segments/*.npz); give a loop run directory of HopperBackflip-v2 or -v3")
    return files


def clips(run_dir: Path) -> list[dict[str, Any]]:
    """Per stored segment batch (one per label round): what its clips contain."""
    rows = []
    for path in segment_files(run_dir):
        with np.load(path) as z:
            turned = z["term__backward_rotation"].max(axis=1)
            rows.append({"batch": path.stem, "segments": int(len(turned)),
                         "segments_with_a_landing": int((z["term__reward_landing"] > 0).any(axis=1).sum()),
                         "share_turning_past_half_a_turn": float((turned > math.pi).mean()),
                         "share_turning_past_a_full_turn": float((turned > 2 * math.pi).mean()),
                         "mean_true_return": float(z["reward"].sum(axis=1).mean())})
    return rows


def policy(run_dir: Path, episodes: int, seed: int) -> dict[str, Any]:
    """The final policy, sampling actions as in training, on ``episodes`` fresh episodes."""
    import torch

    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy, normalised_obs

    torch.manual_seed(seed)
    e = load_config(run_dir).env
    env = env_factory(e.id, e.kwargs, e.christiano)()
    agent, rms = load_policy(run_dir), load_obs_rms(run_dir)
    turns, landed, heights, successes = [], [], [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        furthest, flips, done = 0.0, 0, False
        info: dict[str, Any] = {}
        while not done:
            action, _ = agent.predict(normalised_obs(obs, rms)[None].astype(np.float32), deterministic=False)
            obs, _, term, trunc, info = env.step(action[0])
            furthest, flips, done = max(furthest, info["backward_rotation"]), max(flips, info["flips_landed"]), term or trunc
        turns.append(furthest / (2 * math.pi))
        landed.append(flips)
        heights.append(float(info["torso_height"]))
        successes.append(bool(info["is_success"]))
    env.close()
    return {"episodes": episodes, "deterministic": False, "episodes_with_a_landing": int(sum(f > 0 for f in landed)),
            "successes": int(sum(successes)), "turns_median": float(np.median(turns)),
            "turns_range": [float(min(turns)), float(max(turns))],
            "final_torso_height_median": float(np.median(heights))}


def learned_reward(run_dir: Path, batches: int) -> dict[str, Any]:
    """The final reward model on the last ``batches`` segment batches, per state class (see the module docstring)."""
    from rlhf_robotics.robotics.evaluation import pearson
    from rlhf_robotics.robotics.saved_run import load_reward_function

    reward = load_reward_function(run_dir)
    obs, act, true, air = [], [], [], []
    for path in segment_files(run_dir)[-batches:]:
        with np.load(path) as z:
            obs.append(z["obs"])
            act.append(z["act"])
            true.append(z["reward"])
            air.append(z["term__airborne"])
    o, a, r, airborne = (np.concatenate(v) for v in (obs, act, true, air))
    if o.shape[-1] <= ALLOWANCE_INDEX:
        raise SystemExit(f"{run_dir}: observations have {o.shape[-1]} entries; this reads HopperBackflip-v2's or v3's "
                         f"(index {ALLOWANCE_INDEX} = rotation_to_complete)")
    x = np.concatenate([o, a], axis=-1)
    learned = reward(x.reshape(-1, x.shape[-1]).astype(np.float32)).reshape(r.shape)
    turning = (airborne > 0.5) & (o[..., REGAIN_INDEX] < 1e-6)  # in the air, at the furthest rotation so far
    classes = {"turning_within_the_allowance": turning & (o[..., ALLOWANCE_INDEX] > 0.3),
               "turning_past_the_allowance": turning & (o[..., ALLOWANCE_INDEX] < 0),
               "on_the_ground": airborne < 0.5}
    ground = classes["on_the_ground"]
    out: dict[str, Any] = {"segment_batches": batches, "steps": int(r.size),
                           "correlation_step": pearson(learned.ravel(), r.ravel())}
    for name, mask in classes.items():
        out[name] = {"steps": int(mask.sum())}
        if mask.any() and name != "on_the_ground" and ground.any():
            out[name]["learned_minus_ground_in_sd"] = float((learned[mask].mean() - learned[ground].mean()) / learned.std())
            out[name]["true_minus_ground_in_sd"] = float((r[mask].mean() - r[ground].mean()) / r.std())
    return out


def landing_clips(run_dir: Path) -> dict[str, Any]:
    """The final reward model on every labelled clip (all segment batches): its return for the clips that hold a
    landing against the others, beside the true ones. The teacher prefers nearly every landing clip (a landing pays
    400 on its step), so a model that fits its labels scores them higher; where it scores them lower, the landing
    is in the labels and the model has not learned it, and the policy is not paid for landing. Also, from the same
    pass over the clips, ``by_rotation_left`` (:func:`by_rotation_left`) on all their steps."""
    from rlhf_robotics.robotics.saved_run import load_reward_function

    reward = load_reward_function(run_dir)
    learned, true, landed, steps = [], [], [], []
    for path in segment_files(run_dir):
        with np.load(path) as z:
            x = np.concatenate([z["obs"], z["act"]], axis=-1).astype(np.float32)
            per_step = reward(x.reshape(-1, x.shape[-1])).reshape(z["reward"].shape)
            learned.append(per_step.sum(axis=1))
            true.append(z["reward"].sum(axis=1))
            landed.append((z["term__reward_landing"] > 0).any(axis=1))
            steps.append((z["obs"].reshape(-1, z["obs"].shape[-1]), per_step.ravel(), z["reward"].ravel()))
    lr, tr, has = np.concatenate(learned), np.concatenate(true), np.concatenate(landed)
    out: dict[str, Any] = {"clips": int(has.size), "clips_with_a_landing": int(has.sum())}
    o = np.concatenate([s[0] for s in steps])
    if o.shape[-1] > ALLOWANCE_INDEX:
        out["by_rotation_left"] = by_rotation_left(o, np.concatenate([s[1] for s in steps]), np.concatenate([s[2] for s in steps]))
    if has.any() and (~has).any():
        out.update({"learned_return_with_a_landing": float(lr[has].mean()), "learned_return_without": float(lr[~has].mean()),
                    "true_return_with_a_landing": float(tr[has].mean()), "true_return_without": float(tr[~has].mean()),
                    "landing_clips_ranked_above_the_median_clip": float((lr[has] > np.median(lr[~has])).mean())})
    return out


ROTATION_LEFT_BINS = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 2 * math.pi)
"""Edges (rad) of what is left of the flip's rotation allowance (observation index 13) for :func:`by_rotation_left`."""


def by_rotation_left(o: np.ndarray, learned: np.ndarray, true: np.ndarray) -> list[dict[str, Any]]:
    """Steps in the air at the furthest rotation so far (a flip under way), binned by what is left of the flip's
    rotation (:data:`ROTATION_LEFT_BINS`; below 0: turned past it): per bin the learned and the true step reward
    minus its on-the-ground mean, in standard deviations of each. The objective pays every radian of a flip alike;
    a learned reward that pays the end of the flip less than its start makes a policy give flips up part-way.
    ``o``: ``(N, D)`` observations; ``learned``, ``true``: ``(N,)``."""
    turning = (o[:, AIRBORNE_INDEX] > 0.5) & (o[:, REGAIN_INDEX] < 1e-6)
    ground = o[:, AIRBORNE_INDEX] < 0.5
    rows = []
    for lo, hi in zip(ROTATION_LEFT_BINS[:-1], ROTATION_LEFT_BINS[1:]):
        mask = turning & (o[:, ALLOWANCE_INDEX] >= lo) & (o[:, ALLOWANCE_INDEX] < hi)
        row: dict[str, Any] = {"rotation_left_rad": [lo, hi], "steps": int(mask.sum())}
        if mask.sum() >= 5 and ground.any():
            row["learned_minus_ground_in_sd"] = float((learned[mask].mean() - learned[ground].mean()) / learned.std())
            row["true_minus_ground_in_sd"] = float((true[mask].mean() - true[ground].mean()) / true.std())
        rows.append(row)
    return rows


def label_schedule(config: dict[str, Any]) -> list[int] | None:
    """Labels the run asked per round (round 0 on the initial policy), from its ``config.json``; None without one."""
    from rlhf_robotics.robotics.schedule import label_schedule as schedule

    lab = config.get("labels")
    if not lab or "total_steps" not in config:
        return None
    return schedule(lab["total"], lab["initial_fraction"], lab["rounds"], config["total_steps"], lab["schedule_timescale"])


SETTINGS = (("pretrain", "steps", 0), ("ppo", "ent_coef", 0.0))
"""(section, key, default) of the run settings a row names when they differ from the default (the probes' knobs)."""


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """The run's :data:`SETTINGS` that differ from their defaults, as ``{"pretrain.steps": 100000}``."""
    return {f"{sec}.{key}": config[sec][key] for sec, key, default in SETTINGS
            if key in config.get(sec, {}) and config[sec][key] != default}


def plot_rounds(rows: list[dict[str, Any]], path: Path) -> None:
    """Per label round, for each run: the share of its labelled clips that hold a landing and the share that turn
    past a full turn, so a run that landed flips and then gave them up (or came back to them) can be seen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    missing = [r["run_dir"] for r in rows if not r.get("clips")]
    if missing:
        raise ValueError(f"no per-round clips to plot for {', '.join(missing)}: read runs whose segments/ are kept")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharex=True)
    for r in rows:
        rounds = range(len(r["clips"]))
        success = (r.get("policy") or {}).get("successes")
        episodes = (r.get("policy") or {}).get("episodes")
        label = Path(r["run_dir"]).name + (f" (lands {success} of {episodes})" if episodes else "")
        axes[0].plot(rounds, [c["segments_with_a_landing"] / max(c["segments"], 1) for c in r["clips"]],
                     marker="o", ms=3, label=label)
        axes[1].plot(rounds, [c["share_turning_past_a_full_turn"] for c in r["clips"]], marker="o", ms=3, label=label)
    axes[0].set_title("labelled clips holding a landing")
    axes[1].set_title("labelled clips turning past a full turn")
    for ax in axes:
        ax.set_xlabel("label round (0: the pre-trained policy)")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("share of the round's clips")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="loop run directories of HopperBackflip-v2 or -v3")
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--last-batches", type=int, default=3, help="segment batches the learned reward is read on")
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--out", type=Path, default=RESULTS / "backflip_loop_diagnosis.json")
    p.add_argument("--plot", type=Path, default=None,
                   help="also draw the runs read now, per label round: clips holding a landing, clips past a full turn (PNG)")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.last_batches < 1:
        p.error(f"--episodes and --last-batches must be >= 1, got {args.episodes} and {args.last_batches}")
    import torch

    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
        config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
        row = {"run_dir": str(run), "env_id": config.get("env", {}).get("id"),
               "env_kwargs": config.get("env", {}).get("kwargs") or {}, "steps": summary.get("total_steps"), "labels": summary.get("labels_used"),
               "reward_model_accuracy_vs_oracle": summary.get("reward_model_accuracy_vs_oracle"),
               "reward_correlation_step": summary.get("reward_correlation_step"),
               "label_schedule": label_schedule(config), "settings": settings(config), "clips": clips(run), "policy": policy(run, args.episodes, args.seed),
               "learned_reward": learned_reward(run, args.last_batches), "landing_clips": landing_clips(run)}
        print(json.dumps({k: v for k, v in row.items() if k != "clips"}, default=float), flush=True)
        rows.append(row)
    command = " ".join(["python benchmarks/backflip_loop_diagnosis.py", *(sys.argv[1:] if argv is None else argv)])
    write_result(args.out, merged(args.out, rows, command))
    if args.plot is not None:
        plot_rounds(rows, args.plot)
    return 0


def merged(out: Path, rows: list[dict[str, Any]], command: str) -> dict[str, Any]:
    """The results file with ``rows`` added: a run read again replaces its row; rows of runs not read this time
    (their run directories may live only on the machine that made them) are kept, with the earlier commands. A row
    is the same run when its directory, steps and reward-model accuracy match (a benchmark that reran a job in the
    same directory made another run, and both rows stay)."""
    def same_run(row: dict[str, Any]) -> tuple[Any, ...]:
        return row["run_dir"], row.get("steps"), row.get("reward_model_accuracy_vs_oracle")

    earlier = json.loads(out.read_text()) if out.is_file() else {}
    fresh = {same_run(r) for r in rows}
    kept = [r for r in earlier.get("runs", []) if same_run(r) not in fresh]
    commands = [*earlier.get("earlier_commands", []), *([earlier["command"]] if kept and "command" in earlier else [])]
    return {"benchmark": "backflip_loop_diagnosis", "command": command, "earlier_commands": commands if kept else [],
            "runs": kept + rows, **provenance()}


if __name__ == "__main__":
    sys.exit(main())
