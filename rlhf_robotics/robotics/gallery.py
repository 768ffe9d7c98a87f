"""The task gallery: a short clip of every suite task and one contact sheet, so a person can see the suite at a
glance (``rlhf-robotics gallery``; the command line is parsed in :mod:`rlhf_robotics.cli.gallery`).

Without run directories, each clip is a seeded random-action rollout of one suite task. Given run directories,
each run's final policy (its last checkpoint, deterministic actions, its observation statistics) is shown beside
a random policy on the same task and seed: learned behaviours against what a task looks like untrained. Given
the suite benchmark's results file, the runs are each task's best seed of one arm (see
:mod:`rlhf_robotics.robotics.suite_results`), and tasks with no run left are listed as skipped. Clips are
rendered from the rollouts' MuJoCo states through the same path as labelling clips. Output: one clip per
row (``<Task>-v0.mp4``, or ``<Task>-v0_learned_<k>.mp4`` and ``<Task>-v0_random_<k>.mp4``),
``<out>/contact_sheet.png`` and ``<out>/gallery.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from rlhf_robotics.envs import TASKS
from rlhf_robotics.robotics.rendering import RenderConfig, clip_fps, encode, render_frames
from rlhf_robotics.robotics.suite_results import (
    SUITE_COMMAND,
    Arm,
    SuiteResultsError,
    best_runs,
    read_suite_results,
)


@dataclass(frozen=True)
class GalleryConfig:
    """What the gallery renders."""

    out: Path = Path("videos/gallery")
    """Output folder."""
    seconds: float = 2.0
    """Simulated seconds per clip (capped by the task's time limit)."""
    seed: int = 0
    """Seed of every task's reset and random actions."""
    render: RenderConfig = RenderConfig(width=256, height=256, fps=30.0)
    """Clip preset, size and frame rate."""
    frames_per_row: int = 5
    """Frames per task on the contact sheet."""
    runs: tuple[Path, ...] = ()
    """Run directories whose final policies to show, each beside a random policy on its task; empty: a random
    rollout of every suite task."""
    benchmark: Path | None = None
    """The suite benchmark's results file: show each task's best seed of ``arm`` (instead of ``runs``); the calibration
    benchmark's (``benchmarks/results/suite_calibration.json``) gives its PPO runs as ``arm=ppo``."""
    arm: Arm = "loop"
    """With ``benchmark``: the arm whose best seeds to show, ``loop`` or ``ppo``."""

    def __post_init__(self) -> None:
        if self.runs and self.benchmark is not None:
            raise ValueError(f"runs={[str(r) for r in self.runs]} and benchmark={self.benchmark}: give one of them")


Act = Callable[[np.ndarray], np.ndarray]
"""A policy as the gallery runs it: observation ``(obs_dim,)`` → action."""


def rollout_states(env_id: str, seconds: float, seed: int, act: Act | None = None,
                   make_env: Callable[[], gym.Env] | None = None) -> tuple[np.ndarray, np.ndarray, float, float, bool]:
    """One rollout: ``(qpos (T, nq), qvel (T, nv), dt, hidden return, verifier on the last step)``.

    Args:
        env_id: the task (``gym.make(env_id)`` unless ``make_env`` is given).
        seconds: simulated seconds, capped by the task's time limit.
        seed: seed of the reset (and of the random actions).
        act: the policy; None = uniform random actions.
        make_env: builds the env as the run that trained ``act`` did (its ``kwargs``).
    """
    env = make_env() if make_env is not None else gym.make(env_id)
    base = env.unwrapped
    if not isinstance(base, MujocoEnv):
        raise TypeError(f"{env_id} is not a MuJoCo environment ({type(base).__name__})")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    data, dt = base.data, float(base.dt)
    limit = env.spec.max_episode_steps if env.spec is not None else None
    steps = min(max(1, int(round(seconds / dt))), limit or 10**9)
    qpos, qvel, ret, success = [], [], 0.0, False
    for _ in range(steps):
        qpos.append(data.qpos.copy())
        qvel.append(data.qvel.copy())
        action = env.action_space.sample() if act is None else act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        ret += float(reward)
        success = bool(info.get("is_success", False))
        if terminated or truncated:
            break
    env.close()
    return np.array(qpos), np.array(qvel), dt, ret, success


def contact_sheet(rows: Sequence[tuple[str, np.ndarray | list[np.ndarray]]], path: Path, per_row: int) -> Path:
    """One titled strip per row of ``per_row`` evenly spaced frames of its clip ``(T, H, W, 3)``; a row given
    several clips (a learned policy and a random one) shows ``per_row`` frames of each, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def strip(frames: np.ndarray) -> np.ndarray:
        picks = np.linspace(0, len(frames) - 1, per_row).round().astype(int)
        gap = np.full((frames.shape[1], 4, 3), 255, dtype=np.uint8)
        return np.concatenate([x for k in picks for x in (frames[k], gap)][:-1], axis=1)

    strips = []
    for _, clips in rows:
        parts = [strip(c) for c in (clips if isinstance(clips, list) else [clips])]
        wide_gap = np.full((parts[0].shape[0], 16, 3), 255, dtype=np.uint8)
        strips.append(np.concatenate([x for part in parts for x in (part, wide_gap)][:-1], axis=1))
    height, width = strips[0].shape[:2]
    fig, axes = plt.subplots(len(rows), 1, figsize=(width / 100, len(rows) * (height + 24) / 100), squeeze=False)
    for ax, (title, _), image in zip(axes[:, 0], rows, strips, strict=True):
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title(title, loc="left", fontsize=9)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.2 / len(rows), hspace=24 / height + 0.02)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def policy_act(run_dir: Path) -> tuple[Act, Callable[[], gym.Env], str, str]:
    """A run's final policy as an :data:`Act` (deterministic, its observation statistics applied), the factory
    of its env, the task id and a one-line description (steps; labels and teacher, or the true reward; seed)."""
    from rlhf_robotics.robotics.checkpoint import TRUE_REWARD
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import checkpoint_dir, load_obs_rms, load_policy, normalised_obs

    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir}: no run there (no config.json); give a run directory of `rlhf-robotics`")
    config = load_config(run_dir)
    policy, rms = load_policy(run_dir), load_obs_rms(run_dir)
    state = json.loads((checkpoint_dir(run_dir) / "state.json").read_text())

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = policy.predict(normalised_obs(obs, rms)[None].astype(np.float32), deterministic=True)
        return action[0]

    e = config.env
    if state.get("reward") == TRUE_REWARD:  # no labels: e.g. the suite benchmark's PPO arm
        taught = f"{config.algo.upper()} on the true reward"
    else:
        taught = (f"{config.labels.total:,} labels ({config.teacher.preset} teacher"
                  f"{', rubric' if config.teacher.judge_on == 'rubric' else ''})")
    about = f"{int(state['num_timesteps']):,} steps, {taught}, seed {config.seed}"
    return act, env_factory(e.id, e.kwargs, e.christiano), e.id, about


def _task_name(env_id: str) -> str:
    return env_id.split("/", 1)[-1]


def build_gallery(config: GalleryConfig) -> dict[str, Any]:
    """Render every clip and the contact sheet; returns what ``gallery.json`` records.

    Raises:
        SuiteResultsError: ``benchmark`` is missing, is not the suite's results file, or has no final policy left
            to show (before anything is written).
    """
    if config.benchmark is not None:
        return _benchmark_gallery(config, config.benchmark)
    config.out.mkdir(parents=True, exist_ok=True)
    if config.runs:
        return _policy_gallery(config, config.runs)
    rows, entries = [], []
    for task in TASKS:
        qpos, qvel, dt, ret, success = rollout_states(task.id, config.seconds, config.seed)
        frames = render_frames(task.id, qpos, qvel, dt, config.render)
        clip = encode(frames, config.out / f"{task.name}.{config.render.codec}", clip_fps(dt, config.render),
                      config.render.codec)
        rows.append((f"{task.id} — {task.summary}", frames))
        entries.append({"env_id": task.id, "clip": clip.name, "steps": len(qpos), "seconds": len(qpos) * dt,
                        "random_policy_return": ret, "random_policy_success": success})
    sheet = contact_sheet(rows, config.out / "contact_sheet.png", config.frames_per_row)
    summary: dict[str, Any] = {"tasks": entries, "contact_sheet": sheet.name, "render": config.render.to_dict(),
                                  "seed": config.seed}
    (config.out / "gallery.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _benchmark_gallery(config: GalleryConfig, results: Path) -> dict[str, Any]:
    """Each task's best ``arm`` seed of a suite results file beside a random policy; skipped tasks listed."""
    best, skipped = best_runs(read_suite_results(results), config.arm)
    if not best:
        reasons = "; ".join(f"{s.task}: {s.reason}" for s in skipped)
        raise SuiteResultsError(f"benchmark={results}: no task has a {config.arm} run whose final policy remains "
                                f"({reasons}); run `{SUITE_COMMAND}` (each job keeps its final policy), and the gallery "
                                "from the repository root")
    config.out.mkdir(parents=True, exist_ok=True)
    record = {"results": str(results), "arm": config.arm,
              "best": [{**asdict(b), "run_dir": str(b.run_dir)} for b in best],
              "skipped": [asdict(s) for s in skipped]}
    titles = [f"{b.task} (best {config.arm} seed {b.seed})" for b in best]
    return _policy_gallery(config, [b.run_dir for b in best], titles, {"benchmark": record})


def _policy_gallery(config: GalleryConfig, runs: Sequence[Path], titles: Sequence[str] | None = None,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each run's final policy beside a random policy on its task (same seed, same env settings); ``titles``
    name the rows (default: the task), ``extra`` goes into ``gallery.json`` as it is."""
    rows: list[tuple[str, np.ndarray | list[np.ndarray]]] = []
    entries = []
    for k, run in enumerate(runs):
        act, make_env, env_id, about = policy_act(Path(run))
        clips, parts = [], []
        for name, policy in (("learned", act), ("random", None)):
            qpos, qvel, dt, ret, success = rollout_states(env_id, config.seconds, config.seed, policy, make_env)
            frames = render_frames(env_id, qpos, qvel, dt, config.render)
            clip = encode(frames, config.out / f"{_task_name(env_id)}_{name}_{k}.{config.render.codec}",
                          clip_fps(dt, config.render), config.render.codec)
            clips.append(frames)
            parts.append(f"{name} return {ret:.0f}{', passes' if success else ''}")
            entries.append({"env_id": env_id, "policy": name, "run_dir": str(run), "clip": clip.name,
                            "steps": len(qpos), "seconds": len(qpos) * dt, "return": ret, "success": success,
                            **({"about": about} if policy is not None else {})})
        title = titles[k] if titles is not None else _task_name(env_id)
        rows.append((f"{title}: {parts[0]} (left) | {parts[1]} (right)", clips))
    sheet = contact_sheet(rows, config.out / "contact_sheet.png", config.frames_per_row)
    summary: dict[str, Any] = {"runs": entries, "contact_sheet": sheet.name, "render": config.render.to_dict(),
                               "seed": config.seed, **(extra or {})}
    (config.out / "gallery.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
