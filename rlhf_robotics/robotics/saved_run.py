"""What a finished (or killed) run left behind, loaded back: its reward model, its policy with the observation
statistics it was trained with, and an evaluation of that policy on the hidden true objective with a video —
rl-zoo's ``enjoy`` for a run directory (``rlhf-robotics eval run=<dir>``).

Checkpoints live in ``<run>/checkpoints/round_NNN/``: ``policy.zip`` (SB3), ``reward_model.pt`` +
``reward_model.json`` (``state_dict`` and the metadata that rebuilds the ensemble, no pickle),
``vecnormalize.npz`` (the statistics as arrays) and ``vecnormalize.pkl`` (the same in SB3's ``VecNormalize.save``
format, for SB3 and rl-zoo tools).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd

from rlhf_robotics.preference.ensemble import (
    MLPConfig,
    RewardEnsemble,
    StackedStepReward,
    build_step_ensemble,
)
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.robotics.config import ExperimentConfig, load_config
from rlhf_robotics.robotics.evaluation import ReturnStats, SuccessRate, evaluate_policy, record_video
from rlhf_robotics.robotics.physics import env_factory
from rlhf_robotics.robotics.policy import ALGORITHMS
from rlhf_robotics.robotics.summary import Summary


def checkpoint_dir(run_dir: str | Path, round: int | None = None) -> Path:
    """``checkpoints/round_NNN`` of ``run_dir``: the given round, or the last one saved."""
    root = Path(run_dir) / "checkpoints"
    if round is None:
        latest = root / "latest.json"
        if not latest.is_file():
            raise FileNotFoundError(f"{run_dir} holds no checkpoint (no checkpoints/latest.json): is it a run directory "
                                    "whose first label round ended?")
        return root / json.loads(latest.read_text())["dir"]
    path = root / f"round_{round:03d}"
    if not path.is_dir():
        saved = sorted(p.name for p in root.glob("round_*")) if root.is_dir() else []
        raise FileNotFoundError(f"round={round}: no checkpoint {path}; saved rounds: {', '.join(saved) or 'none'}")
    return path


def load_reward_model(run_dir: str | Path, round: int | None = None) -> RewardEnsemble:
    """The reward ensemble of a run (last round by default), on the CPU in eval mode.

    ``ensemble.reward(x)`` gives the normalised learned reward of steps ``x`` (``(N, obs_dim + act_dim)``, the
    observation followed by the action), the same function the policy was trained on; :class:`StackedStepReward`
    of it is the fast NumPy version the loop uses.
    """
    d = checkpoint_dir(run_dir, round)
    meta = json.loads((d / "reward_model.json").read_text())
    mlp = MLPConfig(**{**meta["mlp"], "hidden_sizes": tuple(meta["mlp"]["hidden_sizes"]),
                       "ignore_inputs": tuple(meta["mlp"].get("ignore_inputs", ()))})
    ensemble = build_step_ensemble(int(meta["in_dim"]), int(meta["ensemble_size"]), mlp)
    ensemble.load_state_dict(torch.load(d / "reward_model.pt", weights_only=True, map_location="cpu"))
    return ensemble.eval()


def load_reward_function(run_dir: str | Path, round: int | None = None) -> StackedStepReward:
    """The learned per-step reward as a NumPy function ``(N, obs_dim + act_dim) → (N,)``."""
    return StackedStepReward(load_reward_model(run_dir, round))


def load_obs_rms(run_dir: str | Path, round: int | None = None) -> RunningMeanStd | None:
    """The observation statistics the policy was trained with (None when observations were not normalised)."""
    path = checkpoint_dir(run_dir, round) / "vecnormalize.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        if float(z["obs_count"]) == 0:
            return None
        rms = RunningMeanStd(shape=np.shape(z["obs_mean"]))
        rms.mean, rms.var, rms.count = z["obs_mean"], z["obs_var"], float(z["obs_count"])
    return rms


def normalised_obs(obs: np.ndarray, rms: RunningMeanStd | None) -> np.ndarray:
    """``obs`` as the policy saw it in training: standardised by :func:`load_obs_rms`'s statistics and clipped to
    ±10, as SB3's ``VecNormalize`` does (unchanged when ``rms`` is None)."""
    return obs if rms is None else np.clip((obs - rms.mean) / np.sqrt(rms.var + 1e-8), -10, 10)


def load_policy(run_dir: str | Path, round: int | None = None, device: str = "cpu") -> BaseAlgorithm:
    """The run's policy (its ``algo``: PPO, SAC or TD3; last round by default); apply :func:`load_obs_rms` to
    observations before it."""
    algo = load_config(run_dir).algo
    return ALGORITHMS[algo].load(checkpoint_dir(run_dir, round) / "policy.zip", device=device)


@dataclass
class RunEvaluation:
    """A saved policy's true return (and verifier success where the task has one), beside a random policy's."""

    run_dir: str
    round: int
    episodes: int
    seed: int
    policy_return_true: ReturnStats
    random_return_true: ReturnStats
    video: str | None
    policy_success: SuccessRate | None = None
    """The verifier's success rate (``rate`` None with a ``reason`` for a task without a verifier)."""
    random_success: SuccessRate | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_run(
    run_dir: str | Path,
    episodes: int = 10,
    seed: int | None = None,
    round: int | None = None,
    video: bool = True,
    deterministic: bool = True,
) -> RunEvaluation:
    """Evaluate a run's saved policy on the hidden true objective and record its video to
    ``<run>/eval/round_NNN_seed<seed>.mp4`` (writes nothing else)."""
    if episodes < 1:
        raise ValueError(f"episodes={episodes}: give at least 1 episode")
    config: ExperimentConfig = load_config(run_dir)
    d = checkpoint_dir(run_dir, round)
    state = json.loads((d / "state.json").read_text())
    seed = config.seed + 20_000 if seed is None else seed
    e = config.env
    make_env = env_factory(e.id, e.kwargs, e.christiano)
    policy, rms = load_policy(run_dir, round), load_obs_rms(run_dir, round)
    ours = evaluate_policy(policy, make_env, episodes, seed, rms, deterministic=deterministic)
    rand = evaluate_policy(None, make_env, episodes, seed)
    path = None
    if video:
        out = Path(run_dir) / "eval" / f"{d.name}_seed{seed}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        path = str(record_video(policy, make_env, e.id, out, rms, seed))
    return RunEvaluation(str(run_dir), int(state["round"]), episodes, seed, ours.returns, rand.returns, path,
                         ours.success, rand.success)


class RunDirError(ValueError):
    """The run directory cannot be used as asked (it holds a run, or holds none to resume)."""


def finished_summary(run_dir: str | Path) -> Summary | None:
    """The summary of a finished run in ``run_dir`` (``summary.json`` is written last), else None."""
    path = Path(run_dir) / "summary.json"
    return Summary.from_json(json.loads(path.read_text())) if path.is_file() else None


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run or any preference data (a labelling app may create an empty store first)."""
    if (run_dir / "config.json").exists():
        return True
    if not RunPaths(run_dir).store.exists():
        return False
    try:
        with PreferenceStore(RunPaths(run_dir).store) as s:
            return s.count_queries() > 0 or s.count_judgments() > 0
    except (sqlite3.DatabaseError, ValueError):
        return True  # not a store this code can read: never touch it
