"""The task gallery: a short clip of every suite task and one contact sheet, so a person can see the suite at a
glance (``rlhf-robotics gallery``; the command line is parsed in :mod:`rlhf_robotics.cli.gallery`).

Each clip is a seeded random-action rollout rendered from its stored MuJoCo states through the same path as
labelling clips. Output: ``<out>/<Task>-v0.mp4``, ``<out>/contact_sheet.png`` and ``<out>/gallery.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from rlhf_robotics.envs import TASKS
from rlhf_robotics.robotics.rendering import RenderConfig, clip_fps, encode, render_frames


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


def rollout_states(env_id: str, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray, float, float, bool]:
    """Random-action rollout: ``(qpos (T, nq), qvel (T, nv), dt, hidden return, verifier)``."""
    env = gym.make(env_id)
    base = env.unwrapped
    if not isinstance(base, MujocoEnv):
        raise TypeError(f"{env_id} is not a MuJoCo environment ({type(base).__name__})")
    env.action_space.seed(seed)
    env.reset(seed=seed)
    data, dt = base.data, float(base.dt)
    limit = env.spec.max_episode_steps if env.spec is not None else None
    steps = min(max(1, int(round(seconds / dt))), limit or 10**9)
    qpos, qvel, ret, success = [], [], 0.0, False
    for _ in range(steps):
        qpos.append(data.qpos.copy())
        qvel.append(data.qvel.copy())
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        ret += float(reward)
        success = bool(info.get("is_success", False))
        if terminated or truncated:
            break
    env.close()
    return np.array(qpos), np.array(qvel), dt, ret, success


def contact_sheet(rows: list[tuple[str, np.ndarray]], path: Path, per_row: int) -> Path:
    """One strip per task of ``per_row`` evenly spaced frames, titled with the task id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strips = []
    for _, frames in rows:
        picks = np.linspace(0, len(frames) - 1, per_row).round().astype(int)
        gap = np.full((frames.shape[1], 4, 3), 255, dtype=np.uint8)
        strips.append(np.concatenate([x for k in picks for x in (frames[k], gap)][:-1], axis=1))
    height, width = strips[0].shape[:2]
    fig, axes = plt.subplots(len(rows), 1, figsize=(width / 100, len(rows) * (height + 24) / 100), squeeze=False)
    for ax, (title, _), strip in zip(axes[:, 0], rows, strips, strict=True):
        ax.imshow(strip)
        ax.set_axis_off()
        ax.set_title(title, loc="left", fontsize=9)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.2 / len(rows), hspace=24 / height + 0.02)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_gallery(config: GalleryConfig) -> dict[str, Any]:
    """Render every task's clip and the contact sheet; returns what ``gallery.json`` records."""
    config.out.mkdir(parents=True, exist_ok=True)
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
