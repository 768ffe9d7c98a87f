"""Walker2dGracefulWalk's ``observe_fallen`` option: one more input, 1 exactly on the steps the fall cost is charged
(issue 15: the objective as a function of what a reward model sees)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import rlhf_robotics.envs  # noqa: F401  (registers the suite's tasks)


def test_the_fallen_input_is_the_fall_terms_state_and_off_by_default() -> None:
    plain = gym.make("rlhf_robotics/Walker2dGracefulWalk-v0")
    env = gym.make("rlhf_robotics/Walker2dGracefulWalk-v0", observe_fallen=True)
    assert plain.observation_space.shape == (17,) and env.observation_space.shape == (18,)
    obs, _ = env.reset(seed=0)
    base, _ = plain.reset(seed=0)
    np.testing.assert_array_equal(obs[:17], base)
    assert obs[17] == 0.0
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(200):
        action = rng.uniform(-1, 1, 6)
        obs, _, _, _, info = env.step(action)
        base, *_ = plain.step(action)
        np.testing.assert_array_equal(obs[:17], base)  # the same physics, one input more
        assert obs[17] == info["fallen"] == (info["reward_fallen"] < 0)
        seen.append(obs[17])
    assert 0 < np.mean(seen) < 1, "random torques should both stand and fall within 200 steps"
