"""SAC and TD3 as the loop's agent (``algo=sac|td3``): after every reward-model update the whole replay buffer holds
the new reward; the baseline is the same algorithm on the true reward; bad input stops before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_loop import synchronous  # tests/robotics is on sys.path (rootdir-relative, no __init__)

from rlhf_robotics.preference.ensemble import StackedStepReward
from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    OffPolicyConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import PreferenceLoop, build_loop, run_experiment
from rlhf_robotics.robotics.relabel import env_actions


def tiny_off_policy(run_dir: Path, algo: str = "sac", **kw) -> ExperimentConfig:
    return ExperimentConfig(
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=16, rounds=2, initial_steps=200, buffer_steps=400),
        reward_model=synchronous(RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5))),
        algo=algo,  # type: ignore[arg-type]
        off_policy=OffPolicyConfig(buffer_size=4000, learning_starts=50, batch_size=32, net_arch=[32, 32]),
        total_steps=400, seed=0, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False, **kw,
    )


def _stored_vs_model(loop: PreferenceLoop) -> tuple[np.ndarray, np.ndarray]:
    buffer = loop.s.agent.model.replay_buffer  # type: ignore[attr-defined]
    n = buffer.buffer_size if buffer.full else buffer.pos
    obs = buffer.observations[:n].reshape(n * buffer.n_envs, -1)
    act = env_actions(buffer.actions[:n].reshape(n * buffer.n_envs, -1), loop.s.collector.venv.action_space)
    model = StackedStepReward(loop.s.fitter.ensemble)(np.concatenate([obs, act], axis=1))
    return buffer.rewards[:n].reshape(-1), model


def _run_loop(config: ExperimentConfig) -> PreferenceLoop:
    Path(config.run_dir).mkdir(parents=True)
    loop = build_loop(config, progress=False)
    loop.run()
    return loop


def test_sac_replay_buffer_holds_the_final_reward_model_after_the_run(tmp_path: Path) -> None:
    loop = _run_loop(tiny_off_policy(tmp_path / "run"))
    try:
        stored, model = _stored_vs_model(loop)
        assert len(stored) >= 400  # every transition PPO-style collection and SAC learning put there
        np.testing.assert_allclose(stored, model, rtol=1e-5, atol=1e-5)
        assert loop.s.timer.seconds["relabel"] > 0
        assert json.loads((tmp_path / "run" / "summary.json").read_text())["labels_used"] == 16
    finally:
        loop.close()

    # the ablation: without relabelling, transitions keep the rewards of the models they were collected under
    stale = _run_loop(replace(tiny_off_policy(tmp_path / "stale"), off_policy=OffPolicyConfig(
        buffer_size=4000, learning_starts=50, batch_size=32, net_arch=[32, 32], relabel=False)))
    try:
        stored, model = _stored_vs_model(stale)
        assert not np.allclose(stored, model, rtol=1e-5, atol=1e-5)
    finally:
        stale.close()


def test_td3_loop_and_its_true_reward_baseline_run(tmp_path: Path) -> None:
    summary = run_experiment(replace(tiny_off_policy(tmp_path / "run", "td3"), baseline=True), progress=False)
    assert summary.baseline_return_true is not None and summary.labels_used == 16
    from rlhf_robotics.robotics.saved_run import load_policy

    assert type(load_policy(tmp_path / "run")).__name__ == "TD3"


@pytest.mark.parametrize(("args", "message"), [
    (["algo=sac", "env.id=CartPole-v1"], "algo=sac needs a continuous (Box) action space, but CartPole-v1 has Discrete"),
    (["algo=a2c"], "algo"),
])
def test_bad_algorithm_stops_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    r = subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "MUJOCO_GL": "egl"})
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_pebble_pretrains_on_state_entropy_then_hands_over_within_the_step_budget(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.config import PretrainConfig
    from rlhf_robotics.robotics.exploration import StateEntropyReplayBuffer

    config = replace(tiny_off_policy(tmp_path / "run"), total_steps=600,
                     pretrain=PretrainConfig(steps=150, k=3, reset_updates=10))
    loop = _run_loop(config)
    try:
        buffer = loop.s.agent.model.replay_buffer  # type: ignore[attr-defined]
        assert isinstance(buffer, StateEntropyReplayBuffer) and not buffer.intrinsic
        assert buffer.stats.count > 100  # the critic was trained on state-entropy rewards during pre-training
        assert loop.s.agent.model.num_timesteps == 600  # 50 seed + 150 pre-training + the rounds' steps = total_steps
        stored, model = _stored_vs_model(loop)  # handed over: every stored reward is the learned one
        np.testing.assert_allclose(stored, model, rtol=1e-5, atol=1e-5)
        rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
        assert rows[0]["round"] == 0 and rows[0]["step"] == 200  # the first labels came after pre-training
    finally:
        loop.close()
    resumed = build_loop(config, progress=False)  # a resume loads a fresh SAC whose buffer starts intrinsic
    try:
        assert resumed.load_checkpoint()
        assert not resumed.s.agent.model.replay_buffer.intrinsic  # type: ignore[attr-defined]  # learned rewards only
    finally:
        resumed.close()


def test_pretraining_needs_room_in_the_budget(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.config import PretrainConfig

    with pytest.raises(ValueError, match="pretrain.steps = 400 leaves no steps of total_steps=400"):
        replace(tiny_off_policy(tmp_path), algo="ppo", pretrain=PretrainConfig(steps=400))
    assert replace(tiny_off_policy(tmp_path), algo="ppo", pretrain=PretrainConfig(steps=350)).pretrain.steps == 350
    with pytest.raises(ValueError, match="leaves no steps of total_steps=400"):
        replace(tiny_off_policy(tmp_path), pretrain=PretrainConfig(steps=350))  # + SAC's seed steps


def test_external_suite_tasks_without_their_extra_or_misspelt_stop_before_any_work(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.physics import check_env_id

    with pytest.raises(ValueError, match="Did you mean rlhf_robotics/dmc-walker-walk-v0"):
        check_env_id("rlhf_robotics/dmc-walker-wlak-v0")
    with pytest.raises(ValueError, match="Did you mean rlhf_robotics/mw-button-press-v3"):
        check_env_id("rlhf_robotics/mw-buton-press-v3")
    for env in ("dmc_walker_walk", "mw_button_press"):
        r = subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", f"env={env}", "algo=sac"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env={**os.environ, "MUJOCO_GL": "egl"})
        assert r.returncode == 2, r.stderr
        assert "pip install 'rlhf_robotics[suites]'" in r.stderr and "Traceback" not in r.stderr
        assert list(tmp_path.iterdir()) == []


def test_bpref_sac_settings_reach_sb3(tmp_path: Path) -> None:
    import torch

    from rlhf_robotics.robotics.policy import make_agent, make_vec_env

    c = replace(tiny_off_policy(tmp_path), off_policy=OffPolicyConfig(ent_coef="auto_0.1", target_update_interval=2,
                                                                      net_arch=[16]))
    model = make_agent(c, make_vec_env(c, 0), 0, "cpu")
    assert model.target_update_interval == 2  # type: ignore[attr-defined]
    assert float(torch.exp(model.log_ent_coef.detach())) == pytest.approx(0.1)  # type: ignore[attr-defined]
    fixed = make_agent(replace(c, off_policy=OffPolicyConfig(ent_coef="0.05")), make_vec_env(c, 0), 0, "cpu")
    assert fixed.ent_coef_tensor.item() == pytest.approx(0.05)  # type: ignore[attr-defined]
