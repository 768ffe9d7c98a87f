"""``rlhf-robotics gallery runs=[...]`` (issue 15): a run's final policy beside a random policy on its task."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import imageio.v3 as iio
import numpy as np
import pytest

from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    PPOConfig,
    RewardModelConfig,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlhf_robotics.robotics.loop import run_experiment

    run_dir = tmp_path_factory.mktemp("gallery") / "run"
    run_experiment(ExperimentConfig(
        env=EnvConfig(id="rlhf_robotics/ReacherSmooth-v0", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=12, rounds=2, initial_steps=200, buffer_steps=400),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=3)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        total_steps=256, seed=0, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False,
    ), progress=False)
    return run_dir


def test_policy_act_replays_the_saved_policy_on_normalised_observations(run: Path) -> None:
    from rlhf_robotics.robotics.gallery import policy_act
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy

    act, make_env, env_id, about = policy_act(run)
    assert env_id == "rlhf_robotics/ReacherSmooth-v0" and "256 steps" in about and "12 labels" in about
    policy, rms = load_policy(run), load_obs_rms(run)
    assert rms is not None  # the loop normalises observations: the gallery must apply the same statistics
    obs, _ = make_env().reset(seed=3)
    expected, _ = policy.predict(np.clip((obs - rms.mean) / np.sqrt(rms.var + 1e-8), -10, 10)[None], deterministic=True)
    np.testing.assert_allclose(act(obs), expected[0], rtol=1e-6)
    raw, _ = policy.predict(obs[None].astype(np.float32), deterministic=True)
    assert not np.allclose(raw[0], expected[0])  # so skipping the statistics would show a different behaviour


@pytest.mark.render
def test_gallery_shows_each_runs_final_policy_beside_a_random_one(run: Path, tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry
    from rlhf_robotics.robotics.gallery import policy_act, rollout_states

    out = tmp_path / "g"
    assert entry(["gallery", f"out={out}", "seconds=0.3", "size=32", "fps=20", f"runs=[{run}]"]) == 0
    summary = json.loads((out / "gallery.json").read_text())
    learned, random = summary["runs"]
    assert (learned["policy"], random["policy"]) == ("learned", "random")
    assert learned["env_id"] == random["env_id"] == "rlhf_robotics/ReacherSmooth-v0"
    act, make_env, env_id, _ = policy_act(run)
    _, _, _, ret, success = rollout_states(env_id, 0.3, 0, act, make_env)
    assert learned["return"] == pytest.approx(ret) and learned["success"] is success
    assert learned["return"] != pytest.approx(random["return"])
    for entry_ in (learned, random):
        assert iio.imread(out / entry_["clip"]).shape[1:] == (32, 32, 3)
    assert iio.imread(out / "contact_sheet.png").std() > 5


def test_gallery_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry

    assert entry(["gallery", f"out={tmp_path / 'g'}", f"runs=[{tmp_path}]"]) != 0
