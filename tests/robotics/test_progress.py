"""What a person watching a run sees: a per-round progress bar that counts that round's steps, and one readable
line per round."""

from __future__ import annotations

import gymnasium as gym
from stable_baselines3 import PPO

from rlhf_robotics.robotics.policy import CurveCallback
from rlhf_robotics.robotics.run_log import round_line


class Bar:
    def __init__(self) -> None:
        self.n = 0

    def update(self, k: int) -> None:
        self.n += k


def test_progress_bar_counts_each_learn_call_from_zero() -> None:
    model = PPO("MlpPolicy", gym.make("Pendulum-v1"), n_steps=64, batch_size=64, n_epochs=1, seed=0)
    first, second = Bar(), Bar()
    model.learn(128, callback=CurveCallback([], first))
    model.learn(128, reset_num_timesteps=False, callback=CurveCallback([], second))
    assert model.num_timesteps == 256
    assert first.n == 128 and second.n == 128  # not the cumulative 256


def test_round_line_is_short_and_names_the_figures() -> None:
    row = {"labels/asked": 70, "labels/total": 245, "reward_model/val_accuracy": 0.8312, "reward_model/loss": 0.4,
           "policy/return_true": 1234.56, "policy/return_learned": -3.2}
    line = round_line(3, 10, row)
    assert line == "round 3/10, labels 245 (+70), reward model val acc 0.831, true return 1234.6, learned return -3.2"
    assert round_line(0, 10, {"labels/asked": 5, "labels/total": 5}) == "round 0/10, labels 5 (+5)"


def test_suite_ids_and_the_gl_backend_work_from_a_bare_python_api_import() -> None:
    """A fresh interpreter that never imports ``rlhf_robotics.envs``: suite ids resolve through the API, and the
    package chose EGL before MuJoCo loaded (no display, no MUJOCO_GL given)."""
    import os
    import subprocess
    import sys

    code = (
        "from rlhf_robotics.robotics.physics import episode_limit, make_env, step_seconds\n"
        "import os, sys\n"
        "env_id = 'rlhf_robotics/HopperBackflip-v3'\n"
        "print(step_seconds(env_id), episode_limit(env_id), type(make_env(env_id).unwrapped).__name__, "
        "os.environ['MUJOCO_GL'], 'mujoco' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    dt, limit, name, backend, loaded = r.stdout.split()
    assert float(dt) > 0 and int(limit) > 0 and name == "HopperBackflipEnv" and backend == "egl" and loaded == "True"
