"""Tasks that place model parts per episode (Meta-World's goals and fixtures, DMC reacher's target): each episode's
placement is recorded with its steps, kept with the segments cut from them, stored, and applied when a clip is
re-rendered, so a person sees the goal where it was (the suites themselves: tests/envs/test_external_suites.py)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.physics import apply_fixtures, fixture_vector, moves_fixtures
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv
from rlhf_robotics.robotics.segments import SegmentStore


class MovesAGeomPerEpisode(gym.Wrapper):
    """InvertedPendulum whose first geom is moved to a new place at every reset (as a task places its goal)."""

    def reset(self, **kwargs):
        out = super().reset(**kwargs)
        self.unwrapped.model.geom_pos[0, 0] = self.np_random.uniform(-1, 1)
        return out


def _env() -> gym.Env:
    return MovesAGeomPerEpisode(gym.make("InvertedPendulum-v5", max_episode_steps=30))


def test_segments_carry_their_episodes_placement_through_the_store(tmp_path: Path) -> None:
    venv = DummyVecEnv([_env, _env])
    venv.seed(0)
    dim = fixture_vector(venv.envs[0].unwrapped.model).size
    buffer = TransitionBuffer(2, 200, 4, 1, 2, 2, [], fixture_dim=dim)
    wrapped = LearnedRewardVecEnv(venv, None, buffer)
    wrapped.reset()
    placed: dict[int, float] = {}
    for _ in range(120):  # several episodes per env (some end early when the pole falls)
        for i, e in enumerate(venv.envs):
            placed[int(buffer._next_episode[i])] = float(e.unwrapped.model.geom_pos[0, 0])
        wrapped.step(np.zeros((2, 1), np.float32))
    segs = buffer.sample_segments(40, 5, np.random.default_rng(0), "s", "InvertedPendulum-v5", 0.04)
    assert segs.fixtures is not None and segs.fixtures.shape == (40, dim)
    assert len({float(f[_geom_x_index(venv)]) for f in segs.fixtures}) > 2  # several episodes, several placements
    for f in segs.fixtures:
        assert float(f[_geom_x_index(venv)]) in placed.values()
    SegmentStore(tmp_path).save("b", segs)
    back = SegmentStore(tmp_path).get(segs.ids[:3])
    np.testing.assert_array_equal(back.fixtures, segs.fixtures[:3])


def _geom_x_index(venv: DummyVecEnv) -> int:
    m = venv.envs[0].unwrapped.model
    return m.body_pos.size + m.body_quat.size  # geom_pos[0, 0] in the fixture vector


def test_a_placement_is_applied_for_the_clip_and_then_undone() -> None:
    import mujoco

    model = gym.make("InvertedPendulum-v5").unwrapped.model
    before = fixture_vector(model)
    moved = before.copy()
    moved[_geom_x_index_of(model)] = 0.7
    apply_fixtures(model, moved)
    assert model.geom_pos[0, 0] == 0.7
    apply_fixtures(model, before)
    np.testing.assert_array_equal(fixture_vector(model), before)
    assert isinstance(model, mujoco.MjModel)
    assert moves_fixtures("rlhf_robotics/mw-button-press-v3") and moves_fixtures("rlhf_robotics/dmc-reacher-easy-v0")
    assert not moves_fixtures("rlhf_robotics/dmc-walker-walk-v0") and not moves_fixtures("HalfCheetah-v5")


def _geom_x_index_of(model) -> int:
    return model.body_pos.size + model.body_quat.size


def test_clip_names_and_frames_follow_the_placement() -> None:
    from rlhf_robotics.robotics.rendering import RenderConfig, clip_name, render_frames

    env = gym.make("InvertedPendulum-v5")
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    q, v = data.qpos.copy()[None], data.qvel.copy()[None]
    pristine = fixture_vector(model)
    moved = pristine.copy()
    moved[_geom_x_index_of(model)] += 0.5
    config = RenderConfig(width=64, height=64)
    assert clip_name("InvertedPendulum-v5", q, v, 0.04, config) == clip_name("InvertedPendulum-v5", q, v, 0.04, config, None)
    assert clip_name("InvertedPendulum-v5", q, v, 0.04, config, moved) != clip_name("InvertedPendulum-v5", q, v, 0.04, config)
    plain = render_frames("InvertedPendulum-v5", q, v, 0.04, config)
    shifted = render_frames("InvertedPendulum-v5", q, v, 0.04, config, moved)
    assert np.abs(plain.astype(int) - shifted.astype(int)).sum() > 0
    np.testing.assert_array_equal(render_frames("InvertedPendulum-v5", q, v, 0.04, config), plain)  # model restored
