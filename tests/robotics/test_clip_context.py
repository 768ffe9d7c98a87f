"""Context around a judged segment (issue 16): the clip shows steps of the segment's own episode before and after
it, never another episode's, holding the edge state where the episode ends; the clip index marks the scored part."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.clip_context import clip_context, context_steps, episode_context


def test_context_steps_reach_the_minimum_split_evenly_and_capped() -> None:
    # Hopper: 60 steps of 8 ms = 0.48 s; 1.5 s needs 188 steps, so 128 more: 64 before, 64 after
    assert context_steps(60, 0.008, 1.5, 1.0) == (64, 64)
    assert context_steps(60, 0.008, 1.5, 0.2) == (25, 25), "at most 0.2 s (25 steps) per side; the rest is slowed"
    assert context_steps(30, 0.05, 1.5, 1.0) == (0, 0), "HalfCheetah's 1.5 s segments need none"
    assert context_steps(61, 0.008, 1.5, 1.0) == (63, 64)
    assert context_steps(60, 0.008, 1.5, 0.0) == (0, 0)


def filled_buffer(steps: int = 40, n_envs: int = 2, episode_end: int = 12) -> TransitionBuffer:
    """qpos[t, e] = (t, e): each state names its time and env. Env 0's first episode ends after step ``episode_end``."""
    buf = TransitionBuffer(n_envs, capacity=64, obs_dim=1, act_dim=1, nq=2, nv=1, term_keys=[])
    for t in range(steps):
        qpos = np.array([[t, e] for e in range(n_envs)], dtype=np.float64)
        dones = np.array([t == episode_end, False][:n_envs])
        buf.add(np.zeros((n_envs, 1)), np.zeros((n_envs, 1)), np.zeros(n_envs), qpos, qpos[:, :1].copy(),
                [{}] * n_envs, dones)
    return buf


def times(context_qpos: np.ndarray) -> list[int]:
    return [int(x) for x in context_qpos[:, 0]]


def test_episode_context_shows_the_neighbouring_steps_of_the_same_episode() -> None:
    buf = filled_buffer()
    segs = buf.sample_segments(30, 5, np.random.default_rng(0), "s", "Hopper-v5", 0.008)
    ctx = episode_context(buf, segs, 3, 2)
    assert ctx.qpos.shape == (30, 10, 2) and ctx.before == 3
    for i in range(30):
        t0, env = int(segs.qpos[i, 0, 0]), int(segs.qpos[i, 0, 1])
        np.testing.assert_array_equal(ctx.qpos[i, 3:8], segs.qpos[i], err_msg="the scored steps sit in the middle")
        assert (ctx.qpos[i, :, 1] == env).all(), "never another env's steps"
        # env 0's episode boundary: steps 0..12 are one episode, 13.. the next
        lo, hi = (0, 12) if env == 0 and t0 <= 12 else ((13, 39) if env == 0 else (0, 39))
        expected = list(np.clip(np.arange(t0 - 3, t0 + 7), lo, hi))
        assert times(ctx.qpos[i]) == expected, f"segment at t={t0}, env {env}: the edge state is held"
    np.testing.assert_array_equal(ctx.qvel[..., 0], ctx.qpos[..., 0], err_msg="velocities come from the same steps")


def test_a_segment_no_longer_in_the_buffer_holds_its_own_edges() -> None:
    buf = filled_buffer()
    segs = buf.sample_segments(1, 4, np.random.default_rng(1), "s", "Hopper-v5", 0.008)
    segs.qpos[:] += 1000.0  # not the buffer's states any more
    ctx = episode_context(buf, segs, 2, 1)
    first, last = segs.qpos[0, 0], segs.qpos[0, -1]
    np.testing.assert_array_equal(ctx.qpos[0], np.stack([first, first, *segs.qpos[0], last]))


def test_no_context_when_the_segment_is_long_enough() -> None:
    buf = filled_buffer()
    segs = buf.sample_segments(2, 30, np.random.default_rng(0), "s", "HalfCheetah-v5", 0.05)
    assert clip_context(buf, segs, 1.5, 1.0) is None


@pytest.mark.render
def test_clip_pool_renders_the_context_and_marks_the_scored_part(tmp_path: Path) -> None:
    import gymnasium as gym

    from rlhf_robotics.robotics.render_pool import ClipPool
    from rlhf_robotics.robotics.rendering import RenderConfig

    env = gym.make("Hopper-v5", terminate_when_unhealthy=False)
    env.reset(seed=0)
    buf = TransitionBuffer(1, capacity=300, obs_dim=1, act_dim=1, nq=6, nv=6, term_keys=[])
    for _ in range(300):
        data = env.unwrapped.data  # type: ignore[attr-defined]
        buf.add(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), data.qpos[None].copy(), data.qvel[None].copy(),
                [{}], np.array([False]))
        env.step(env.action_space.sample())
    env.close()
    segs = buf.sample_segments(1, 60, np.random.default_rng(0), "hop", "Hopper-v5", 0.008)
    config = RenderConfig(width=32, height=32, min_seconds=1.5)
    with ClipPool(tmp_path, config, workers=1) as pool:
        ctx = clip_context(buf, segs, 1.5, 1.0)
        assert ctx is not None and ctx.length == 188
        (future,) = pool.request(segs, context=ctx).values()
        future.result(timeout=120)
    (line,) = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert "rate" not in line, "context makes the clip long enough at real time"
    assert line["scored"] == pytest.approx([64 * 0.008, 124 * 0.008])
    assert line["fps"] == 30.0
