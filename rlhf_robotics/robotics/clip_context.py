"""Context around a judged segment: the steps of its own episode just before and after it, so the clip a person
watches can last longer than the segment the reward model scores (issue 16: Hopper's 60 steps last 0.48 s).

The reward model still scores exactly the segment; the clip shows ``before + T + after`` steps and the labelling
app marks the scored part on the timeline. Where the episode (or the transition buffer) does not reach far enough,
the edge state is held, so every clip of a run has the same layout and two clips of a pair stay aligned on the
page's shared clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.segments import Segments


@dataclass(frozen=True)
class ClipContext:
    """The states a clip shows for each segment of a batch: ``before`` steps, the segment, ``after`` steps."""

    qpos: np.ndarray
    """``(N, before + T + after, nq)``."""
    qvel: np.ndarray
    """``(N, before + T + after, nv)``."""
    before: int
    """Steps shown before the scored segment."""

    @property
    def length(self) -> int:
        """Steps per clip."""
        return int(self.qpos.shape[1])


def context_steps(segment_steps: int, dt: float, min_seconds: float, max_seconds: float) -> tuple[int, int]:
    """Steps of context (before, after) that bring ``segment_steps`` steps of ``dt`` seconds up to ``min_seconds``
    of real time, split evenly and at most ``max_seconds`` per side (the rest is made up by slowing down)."""
    if dt <= 0:
        raise ValueError(f"dt must be > 0 seconds per step, got {dt}")
    missing = max(0, math.ceil(min_seconds / dt - 1e-9) - segment_steps)
    cap = int(max_seconds / dt + 1e-9)
    before = min(missing // 2, cap)
    after = min(missing - missing // 2, cap)
    return before, after


def episode_context(buffer: TransitionBuffer, segments: Segments, before: int, after: int) -> ClipContext:
    """Each segment of ``segments`` (cut from ``buffer``) with ``before``/``after`` steps of its own episode.

    A segment is found in the buffer by its exact states (they are copies of the buffer's rows); one that is no
    longer there, and any step past its episode's or the buffer's ends, shows the nearest state of the segment's
    episode instead (a still frame).
    """
    n, t = len(segments), segments.length
    total = before + t + after
    qpos = np.empty((n, total, segments.qpos.shape[-1]), dtype=segments.qpos.dtype)
    qvel = np.empty((n, total, segments.qvel.shape[-1]), dtype=segments.qvel.dtype)
    chrono_qpos = buffer._chronological(buffer.qpos)  # (L, E, nq)
    chrono_qvel = buffer._chronological(buffer.qvel)
    episode = buffer._chronological(buffer.episode)  # (L, E)
    for i in range(n):
        start = _locate(chrono_qpos, segments.qpos[i])
        if start is None:
            idx = np.clip(np.arange(-before, t + after), 0, t - 1)  # hold the segment's own edges
            qpos[i], qvel[i] = segments.qpos[i][idx], segments.qvel[i][idx]
            continue
        t0, env = start
        steps = np.arange(t0 - before, t0 + t + after)
        inside = (steps >= 0) & (steps < len(episode))
        same = np.zeros(total, dtype=bool)
        same[inside] = episode[steps[inside], env] == episode[t0, env]
        first, last = steps[same].min(), steps[same].max()  # the episode's reach around the segment
        idx = np.clip(steps, first, last)
        qpos[i], qvel[i] = chrono_qpos[idx, env], chrono_qvel[idx, env]
    return ClipContext(qpos, qvel, before)


def _locate(chrono_qpos: np.ndarray, seg_qpos: np.ndarray) -> tuple[int, int] | None:
    """(time, env) where the buffer holds the segment's states, or None."""
    t = len(seg_qpos)
    hits = np.argwhere(np.all(chrono_qpos == seg_qpos[0], axis=-1))
    for t0, env in hits:
        if t0 + t <= len(chrono_qpos) and np.array_equal(chrono_qpos[t0 + t - 1, env], seg_qpos[-1]):
            return int(t0), int(env)
    return None


def clip_context(buffer: TransitionBuffer, segments: Segments, min_seconds: float, max_seconds: float) -> ClipContext | None:
    """The context that brings each clip of ``segments`` towards ``min_seconds`` (at most ``max_seconds`` per side),
    or None when the segments are long enough already or no context is wanted."""
    before, after = context_steps(segments.length, segments.dt, min_seconds, max_seconds)
    return episode_context(buffer, segments, before, after) if before or after else None
