"""Evaluation on the hidden true objective: policy returns and verifier success rates, a random-policy reference,
reward-model accuracy against a perfect oracle, learned-vs-true reward correlation, the learning-curve plot and
the policy video."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize


@dataclass
class ReturnStats:
    """Episode returns on the true objective."""

    mean: float
    std: float
    episodes: int


def _stats(returns: Sequence[float]) -> ReturnStats:
    return ReturnStats(float(np.mean(returns)), float(np.std(returns)), len(returns))


@dataclass
class SuccessRate:
    """Share of evaluation episodes that pass the task's verifier, ``info["is_success"]`` read on each episode's
    last step.

    Every suite task's docstring says its verifier is read on the last step: the backflip's stays true once a
    flip is landed (so last step = ever during the episode), the others' hold "while" a condition holds (a
    reacher that touched the target and drifted away has not succeeded). A task whose env reports no
    ``is_success`` has no verifier: ``rate`` and ``successes`` are None and ``reason`` says why — never 0.
    """

    rate: float | None
    """successes / episodes; None without a verifier."""
    successes: int | None
    episodes: int
    reason: str | None = None
    """Why ``rate`` is None (the task has no verifier); None when measured."""


def success_rate(final_infos: Sequence[dict[str, Any]], env_id: str = "this task") -> SuccessRate:
    """The verifier's success rate over episodes, given each episode's last-step ``info``.

    Raises:
        ValueError: some episodes report ``is_success`` and others do not (a wrapper drops the key).
    """
    has = [("is_success" in info) for info in final_infos]
    if not any(has):
        return SuccessRate(None, None, len(final_infos),
                           f"{env_id} reports no info['is_success'] (the task has no verifier)")
    if not all(has):
        raise ValueError(f"{env_id}: only {sum(has)} of {len(has)} episodes report info['is_success']; a wrapper "
                         "drops the key on some steps — report it on every step")
    successes = sum(bool(info["is_success"]) for info in final_infos)
    return SuccessRate(successes / len(final_infos), successes, len(final_infos))


@dataclass
class PolicyEvaluation:
    """A policy's true returns and verifier success rate over the same evaluation episodes."""

    returns: ReturnStats
    success: SuccessRate


def fraction_of_baseline(ours: float, baseline: float) -> float | None:
    """``ours / baseline``, the share of the baseline's true return; None unless ``baseline > 0`` and
    ``ours >= 0`` (with negative returns the ratio does not order policies: use :func:`normalized_score`)."""
    return ours / baseline if baseline > 0 and ours >= 0 else None


def normalized_score(ours: float, random: float, reference: float) -> float | None:
    """``(ours − random) / (reference − random)``: 0 = random policy, 1 = the reference; None if they tie."""
    gap = reference - random
    return (ours - random) / gap if gap != 0 else None


def evaluate_policy(
    policy: BaseAlgorithm | None,
    make_env: Callable[[], gym.Env],
    episodes: int,
    seed: int,
    obs_rms: object | None = None,
    deterministic: bool = True,
    record: list[list[dict[str, Any]]] | None = None,
) -> PolicyEvaluation:
    """True episode returns and verifier success rate of ``policy`` (``None`` = uniform random actions).

    Args:
        policy: an SB3 algorithm, or None for uniform random actions.
        make_env: builds one evaluation env.
        episodes: how many episodes (>= 1).
        seed: seed of the env resets and the random actions.
        obs_rms: the training ``VecNormalize`` observation statistics, applied (frozen) when given.
        deterministic: the policy's mode instead of a sample.
        record: when given, each episode's per-step ``info`` dicts are appended to it (one list per episode),
            so a caller can check the success rate against the verifier's own reading.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    venv: DummyVecEnv | VecNormalize = DummyVecEnv([lambda: Monitor(make_env())])
    env_id = getattr(venv.envs[0].spec, "id", None) or "this task"
    if obs_rms is not None:
        venv = VecNormalize(venv, training=False, norm_obs=True, norm_reward=False)
        venv.obs_rms = obs_rms  # type: ignore[assignment]
    venv.seed(seed)
    venv.action_space.seed(seed)
    returns: list[float] = []
    final_infos: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    obs = venv.reset()
    while len(returns) < episodes:
        if policy is None:
            action = np.array([venv.action_space.sample()])
        else:
            action, _ = policy.predict(obs, deterministic=deterministic)  # type: ignore[arg-type]
        obs, _, dones, infos = venv.step(action)
        if record is not None:
            steps.append({k: v for k, v in infos[0].items() if k not in ("terminal_observation", "episode")})
        if dones[0]:
            returns.append(float(infos[0]["episode"]["r"]))
            final_infos.append(infos[0])
            if record is not None:
                record.append(steps)
                steps = []
    venv.close()
    return PolicyEvaluation(_stats(returns), success_rate(final_infos, env_id))


def evaluate_true_return(
    policy: BaseAlgorithm | None,
    make_env: Callable[[], gym.Env],
    episodes: int,
    seed: int,
    obs_rms: object | None = None,
    deterministic: bool = True,
) -> ReturnStats:
    """Mean true episode return of ``policy`` (``None`` = uniform random actions): :func:`evaluate_policy`'s
    returns."""
    return evaluate_policy(policy, make_env, episodes, seed, obs_rms, deterministic).returns


def pair_accuracy(pred_first: np.ndarray, pred_second: np.ndarray, true_first: np.ndarray, true_second: np.ndarray) -> float:
    """Share of pairs with distinct true scores that the predicted scores order the same way."""
    decisive = true_first != true_second
    if not decisive.any():
        return float("nan")
    return float(np.mean((pred_first > pred_second)[decisive] == (true_first > true_second)[decisive]))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def plot_learning_curves(
    true_curves: dict[str, list[tuple[int, float]]],
    path: Path,
    title: str,
    learned_curve: list[tuple[int, float]] | None = None,
) -> Path:
    """True episode return against env steps, one line per arm; the learned return (whose offset is re-fitted
    every round, so only its shape means something) on a second axis. Written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, points in true_curves.items():
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values, label=name)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("true episode return (training episodes)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if learned_curve:
        twin = ax.twinx()
        steps, values = zip(*learned_curve)
        (line,) = twin.plot(steps, values, color="tab:gray", linestyle=":", label="learned return (right axis)")
        twin.set_ylabel("learned episode return")
        handles.append(line)
        labels.append(line.get_label())
    ax.legend(handles, labels, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def record_video(
    policy: BaseAlgorithm,
    make_env: Callable[[], gym.Env],
    env_id: str,
    path: Path,
    obs_rms: object | None,
    seed: int,
    max_steps: int = 300,
    size: int = 256,
) -> Path:
    """An mp4 of one deterministic episode (at most ``max_steps`` steps), rendered from the recorded MuJoCo
    states with the suite's clip renderer and its fast preset, in real time."""
    from rlhf_robotics.robotics.rendering import RenderConfig, clip_fps, encode, render_frames

    env = make_env()  # must report qpos/qvel in info (PhysicsStateInfo)
    obs, info = env.reset(seed=seed)
    normalise: Callable[[np.ndarray], np.ndarray] = lambda o: o  # noqa: E731
    if obs_rms is not None:
        mean, var = obs_rms.mean, obs_rms.var  # type: ignore[attr-defined]
        normalise = lambda o: np.clip((o - mean) / np.sqrt(var + 1e-8), -10, 10)  # noqa: E731
    qpos, qvel = [info["qpos"]], [info["qvel"]]
    for _ in range(max_steps):
        action, _ = policy.predict(normalise(obs)[None], deterministic=True)
        obs, _, terminated, truncated, info = env.step(action[0])
        qpos.append(info["qpos"])
        qvel.append(info["qvel"])
        if terminated or truncated:
            break
    dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
    env.close()
    config = RenderConfig(width=size, height=size)
    frames = render_frames(env_id, np.stack(qpos), np.stack(qvel), dt, config)
    return encode(frames, path, clip_fps(dt, config))
