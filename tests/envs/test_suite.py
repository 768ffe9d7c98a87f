"""Contracts of the suite's tasks: Gymnasium's checker, determinism, reward terms, and a hidden objective that
tells scripted good behaviour from random actions (DESIGN §4, issue 3)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import scripted
from gymnasium.utils.env_checker import check_env
from rlhf_robotics.envs import TASK_IDS, TASKS, physics_rubric, step_scores


def rollout(env_id: str, seed: int, steps: int | None = None) -> tuple[np.ndarray, list[float], list[dict]]:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    for _ in range(steps or (env.spec.max_episode_steps if env.spec else None) or 1000):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(obs)
        rewards.append(float(reward))
        infos.append(info)
        if terminated or truncated:
            break
    env.close()
    return np.array(observations), rewards, infos


def test_there_are_at_least_six_registered_tasks() -> None:
    assert len(TASKS) >= 6
    for task in TASKS:
        assert gym.spec(task.id).max_episode_steps == task.max_episode_steps


# The only warnings check_env may give, each with its reason; any other (an observation outside its space, a
# wrong dtype, NaN rewards, a non-deterministic reset, ...) fails the test.
KNOWN_CHECK_ENV_WARNINGS: dict[str, tuple[str, ...] | None] = {  # message part → the only tasks allowed (None: all)
    # MuJoCo observations (positions, velocities) are unbounded, as in every Gymnasium v5 task
    "A Box observation space minimum value is -infinity": None,
    "A Box observation space maximum value is infinity": None,
    # PusherGentle keeps Pusher-v5's action space, Box(-2, 2): a recommendation, not an error
    "For Box action spaces, we recommend using a symmetric and normalized space": ("rlhf_robotics/PusherGentle-v2",),
}


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_check_env_passes(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    env.close()
    unexpected = []
    for w in caught:
        known = next((k for k in KNOWN_CHECK_ENV_WARNINGS if k in str(w.message)), None)
        envs = KNOWN_CHECK_ENV_WARNINGS.get(known) if known is not None else ()
        if known is None or (envs is not None and env_id not in envs):
            unexpected.append(f"{w.category.__name__}: {w.message}")
    assert not unexpected, unexpected


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_same_seed_gives_the_same_rollout(env_id: str) -> None:
    obs_a, rew_a, _ = rollout(env_id, seed=3, steps=40)
    obs_b, rew_b, _ = rollout(env_id, seed=3, steps=40)
    obs_c, _, _ = rollout(env_id, seed=4, steps=40)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert not np.array_equal(obs_a, obs_c)


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_reward_terms_sum_to_the_reward_and_the_rubric_scores_the_hidden_return(env_id: str) -> None:
    _, rewards, infos = rollout(env_id, seed=0, steps=60)
    for reward, info in zip(rewards, infos, strict=True):
        terms = [v for k, v in info.items() if k.startswith("reward_")]
        assert len(terms) >= 3
        assert sum(terms) == pytest.approx(reward, abs=1e-9)
        assert isinstance(info["is_success"], bool)
    rubric = physics_rubric(env_id)
    item = {k: np.array([i[k] for i in infos]) for k in infos[0] if k != "is_success"}
    assert rubric.score(item) == pytest.approx(sum(rewards), abs=1e-6)
    per_step = step_scores(rubric, {k: v[None] for k, v in item.items()})
    assert per_step.shape == (1, len(rewards))
    np.testing.assert_allclose(per_step[0], rewards, atol=1e-9)
    assert any(c.weight == 0 for c in rubric.criteria), "physics criteria are logged with weight 0"
    assert all(c.question.endswith("?") for c in rubric.criteria)


def test_rubric_for_an_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="HopperBackflip"):
        physics_rubric("Hopper-v5")


# --- scripted good behaviour against random actions --------------------------------------------------------


def random_return(env_id: str, steps: int, seeds: range = range(2)) -> tuple[float, bool]:
    results = [rollout(env_id, seed, steps) for seed in seeds]
    return float(np.mean([sum(r) for _, r, _ in results])), any(i[-1]["is_success"] for _, _, i in results)


def play(env_id: str, steps: int, act, prepare=None, teleport=None, seed: int = 0) -> tuple[float, dict]:
    """Run a scripted behaviour: ``prepare(env)`` once after reset, ``teleport(env, t)`` before each step."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    u = env.unwrapped
    if prepare is not None:
        prepare(u)
    total, info = 0.0, dict[str, Any]()
    for t in range(steps):
        if teleport is not None:
            teleport(u, t)
        _, reward, _, _, info = env.step(act(u, t))
        total += float(reward)
    env.close()
    return total, info


def test_hopper_backflip_launch_beats_random_and_lands() -> None:
    def launch(u) -> None:  # a jump with backward spin, set directly into the state
        qpos, qvel = u.data.qpos.copy(), u.data.qvel.copy()
        qvel[1], qvel[2] = 5.0, -6.0
        u.set_state(qpos, qvel)

    good, info = play("rlhf_robotics/HopperBackflip-v3", 200, lambda u, t: np.zeros(3), prepare=launch)
    bad, bad_success = random_return("rlhf_robotics/HopperBackflip-v3", 200)
    assert good > bad + 100
    assert info["is_success"] and info["flips_landed"] == 1 and not bad_success


def rear_up(u, t, body_down_at: tuple[int, ...] = ()) -> None:
    """Nose up, front leg tucked, moving forward at 2 m/s; on the steps ``body_down_at`` on its back instead."""
    qpos, qvel = u.data.qpos.copy(), np.zeros(u.model.nv)
    qpos[1], qpos[2], qpos[6:9] = 0.25, -0.7, (-0.5, 0.5, 0.5)
    if t in body_down_at:
        qpos[1], qpos[2] = -0.62, np.pi  # upside down, torso resting on the floor
    qvel[0] = 2.0
    u.set_state(qpos, qvel)


def test_cheetah_on_one_leg_pose_beats_random() -> None:
    good, info = play("rlhf_robotics/HalfCheetahOneLeg-v1", 150, lambda u, t: np.zeros(6), teleport=rear_up)
    bad, bad_success = random_return("rlhf_robotics/HalfCheetahOneLeg-v1", 150)
    assert good > bad + 100
    assert info["is_success"] and not bad_success


@pytest.mark.parametrize("version, down_steps, passes", [
    ("v1", 1, True), ("v1", 2, False),  # v1: at most 1 % of 150 steps (1.5) with the body down
    ("v0", 1, False),  # v0: never
])
def test_cheetah_verifier_allows_one_percent_of_body_contact_from_v1(version: str, down_steps: int,
                                                                    passes: bool) -> None:
    down = tuple(range(60, 60 + down_steps))
    env = gym.make(f"rlhf_robotics/HalfCheetahOneLeg-{version}")
    env.reset(seed=0)
    seen = []
    for t in range(150):
        rear_up(env.unwrapped, t, down)
        *_, info = env.step(np.zeros(6))
        seen.append(info["body_contact"])
    env.close()
    assert [t for t, c in enumerate(seen) if c] == list(down)  # the body touched on exactly those steps
    assert info["is_success"] is passes


@pytest.mark.parametrize("env_id, speed", [("rlhf_robotics/Walker2dGracefulWalk-v0", 1.5),
                                           ("rlhf_robotics/AntUprightWalk-v0", 1.0)])
def test_upright_gliding_pose_beats_random(env_id: str, speed: float) -> None:
    def glide(u, t) -> None:  # the initial upright pose, translated forward at the target speed
        qpos, qvel = u.init_qpos.copy(), np.zeros(u.model.nv)
        qpos[0] = speed * u.dt * t
        qvel[0] = speed
        u.set_state(qpos, qvel)

    nu = int(np.prod(gym.make(env_id).action_space.shape or (0,)))
    good, info = play(env_id, 150, lambda u, t: np.zeros(nu), teleport=glide)
    bad, bad_success = random_return(env_id, 150)
    assert good > bad + 100
    assert info["is_success"] and not bad_success


def test_reacher_minimum_jerk_reach_beats_random_and_verifies() -> None:
    good, info = play("rlhf_robotics/ReacherSmooth-v1", 100, scripted.min_jerk_reach, seed=0)
    bad, bad_success = random_return("rlhf_robotics/ReacherSmooth-v1", 100)
    assert good > bad + 20
    assert info["is_success"] and not bad_success


def test_pusher_approach_and_push_beats_random() -> None:
    good = np.mean([play("rlhf_robotics/PusherGentle-v1", 100, scripted.push, seed=seed)[0] for seed in range(3)])
    bad, _ = random_return("rlhf_robotics/PusherGentle-v1", 100, range(3))
    assert good > bad + 20


@pytest.mark.parametrize("speed, success", [(0.0, True), (1.0, False)])
def test_pusher_verifier_wants_the_object_at_the_goal_and_never_struck(speed: float, success: bool) -> None:
    def place(u) -> None:
        qpos, qvel = u.data.qpos.copy(), np.zeros(u.model.nv)
        qpos[-4:-2] = qpos[-2:]  # object onto the goal
        qvel[-4] = speed
        u.set_state(qpos, qvel)

    _, info = play("rlhf_robotics/PusherGentle-v1", 1, lambda u, t: np.zeros(7), prepare=place)
    assert info["is_success"] is success
    if speed:
        assert info["reward_gentle"] < 0


def test_hopper_v5_configs_work_and_termination_is_a_choice_where_it_makes_sense() -> None:
    gym.make("rlhf_robotics/HopperBackflip-v3", terminate_when_unhealthy=False).close()
    with pytest.raises(ValueError, match="terminate_when_unhealthy=False"):
        gym.make("rlhf_robotics/HopperBackflip-v3", terminate_when_unhealthy=True)
    env = gym.make("rlhf_robotics/Walker2dGracefulWalk-v0", terminate_when_unhealthy=True)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(1000):
        *_, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert terminated and info["fallen"] == 1.0, "random actions topple the walker, which now ends the episode"
