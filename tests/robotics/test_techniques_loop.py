"""Issue 13's techniques through the loop: each one switched on changes a tiny run and leaves it runnable; RUNE's
bonus is what the policy sees (and what an off-policy buffer is relabelled with); QPA's window keeps queries on recent
steps; k-center selection gets the candidates' and the labelled pairs' features. Off, the fingerprints in
``test_fingerprint.py`` hold."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_loop import tiny
from test_off_policy import _stored_vs_model, tiny_off_policy

from rlhf_robotics.preference.intrinsic import rune_beta
from rlhf_robotics.preference.techniques import (
    REEDConfig,
    RIMEConfig,
    RUNEConfig,
    SURFConfig,
    TechniquesConfig,
)
from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    ExperimentConfig,
    RewardModelConfig,
    SelectionSettings,
    TeacherSettings,
)
from rlhf_robotics.robotics.loop import build_loop, run_experiment
from rlhf_robotics.robotics.reward_fit import RUNEReward


def with_techniques(c: ExperimentConfig, **kw) -> ExperimentConfig:
    return dataclasses.replace(c, reward_model=dataclasses.replace(c.reward_model, techniques=TechniquesConfig(**kw)))


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "round_003" / "reward_model.pt", weights_only=True)


@pytest.mark.parametrize("name, techniques", [
    ("stop", dict(stop_accuracy=0.9)),
    ("crop", dict(crop_steps=2)),
    ("surf", dict(surf=SURFConfig(enabled=True, threshold=0.6, ratio=2.0))),
    # a bound this tight (α = 1, no std term) drops some of the mistake teacher's labels in 30-epoch fits
    ("rime", dict(rime=RIMEConfig(enabled=True, warmup_epochs=1, alpha=1.0, beta_init=0.0, beta_min=0.0))),
    ("reed", dict(reed=REEDConfig(enabled=True, epochs=1))),
])
def test_each_trainer_technique_runs_in_the_loop_and_changes_the_fit(tmp_path: Path, name: str, techniques: dict) -> None:
    teacher = TeacherSettings(preset="mistake")  # wrong labels too, so RIME's trust bound has something to catch
    model = RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=30))
    off = tmp_path / "off"
    run_experiment(tiny(off, teacher=teacher, reward_model=model), progress=False)
    on = tmp_path / name
    summary = run_experiment(with_techniques(tiny(on, teacher=teacher, reward_model=model), **techniques), progress=False)
    assert summary.labels_used == 24
    a, b = _weights(off), _weights(on)
    assert not all(torch.equal(a[k], b[k]) for k in a), f"{name} left the reward model as it was"
    if name == "rime":
        rows = [json.loads(x) for x in (on / "metrics.jsonl").read_text().splitlines()]
        assert min(r.get("reward_model/trusted_fraction", 1.0) for r in rows) < 1.0  # it did drop suspect labels


def test_rune_bonus_is_the_reward_the_agent_sees_and_is_relabelled_with(tmp_path: Path) -> None:
    rune = RUNEConfig(enabled=True, beta0=0.5, decay=0.001)
    c = with_techniques(tiny_off_policy(tmp_path / "run"), rune=rune)
    Path(c.run_dir).mkdir()
    loop = build_loop(c, progress=False)
    try:
        loop.run()
        reward = loop.s.collector.reward_env.reward_fn.fn  # type: ignore[union-attr]  # under TimedReward
        assert isinstance(reward, RUNEReward)
        x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
        members = reward.reward.member_rewards(x)
        beta = rune_beta(0.5, 0.001, loop.s.agent.num_timesteps)
        np.testing.assert_allclose(reward(x), reward.reward(x) + beta * members.std(0), rtol=1e-5, atol=1e-6)
        assert beta * members.std(0).mean() > 1e-3  # the bonus is not negligible here
        stored, _ = _stored_vs_model(loop)  # the buffer holds reward + bonus at the step of the last relabelling
        assert not np.allclose(stored, reward.reward(_buffer_features(loop)), atol=1e-4)
    finally:
        loop.close()


def _buffer_features(loop) -> np.ndarray:
    from rlhf_robotics.robotics.relabel import env_actions

    buffer = loop.s.agent.model.replay_buffer
    n = buffer.buffer_size if buffer.full else buffer.pos
    obs = buffer.observations[:n].reshape(n * buffer.n_envs, -1)
    act = env_actions(buffer.actions[:n].reshape(n * buffer.n_envs, -1), loop.s.collector.venv.action_space)
    return np.concatenate([obs, act], axis=1)


def test_kcenter_and_recent_queries_run_through_the_loop(tmp_path: Path) -> None:
    c = dataclasses.replace(tiny(tmp_path / "run"), selection=SelectionSettings(name="kcenter_disagreement", recent_steps=100))
    summary = run_experiment(c, progress=False)
    assert summary.labels_used == 24
    with sqlite3.connect(tmp_path / "run" / "preferences.sqlite") as db:
        selectors = [r[0] for r in db.execute("SELECT selector FROM queries ORDER BY id")]
    assert selectors[:6] == ["uniform"] * 6 and set(selectors[6:]) == {"kcenter_disagreement"}


def test_same_episode_reaches_the_buffer_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlhf_robotics.robotics.buffer import TransitionBuffer

    asked: list[float] = []
    original = TransitionBuffer.sample_segments

    def spy(self: TransitionBuffer, *args: Any, **kwargs: Any) -> Any:
        asked.append(args[7] if len(args) > 7 else kwargs.get("same_episode", 0.0))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TransitionBuffer, "sample_segments", spy)
    c = dataclasses.replace(tiny(tmp_path / "run"), selection=SelectionSettings(name="disagreement", same_episode=0.75))
    assert run_experiment(c, progress=False).labels_used == 24
    # every query round asks with it; the last call cuts the final report's evaluation pairs, independent on purpose
    assert len(asked) >= 4 and asked[:-1] == [0.75] * (len(asked) - 1) and asked[-1] == 0.0


def test_cover_episode_edges_reaches_the_buffer_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlhf_robotics.robotics.buffer import TransitionBuffer

    asked: list[bool] = []
    original = TransitionBuffer.sample_segments

    def spy(self: TransitionBuffer, *args: Any, **kwargs: Any) -> Any:
        asked.append(args[8] if len(args) > 8 else kwargs.get("cover_episode_edges", False))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TransitionBuffer, "sample_segments", spy)
    c = dataclasses.replace(tiny(tmp_path / "run"), selection=SelectionSettings(name="disagreement", cover_episode_edges=True))
    assert run_experiment(c, progress=False).labels_used == 24
    # every query round asks with it; the final report's evaluation pairs are cut with every start alike
    assert len(asked) >= 4 and asked[:-1] == [True] * (len(asked) - 1) and asked[-1] is False


def test_recent_steps_cut_segments_only_from_the_newest_steps() -> None:
    from rlhf_robotics.robotics.buffer import TransitionBuffer

    buffer = TransitionBuffer(n_envs=2, capacity=50, obs_dim=1, act_dim=1, nq=1, nv=1, term_keys=[])
    for t in range(80):  # wraps: the newest 50 steps per env are t = 30 … 79, one episode each
        buffer.add(np.full((2, 1), t, np.float32), np.zeros((2, 1)), np.zeros(2), np.zeros((2, 1)), np.zeros((2, 1)),
                   [{}, {}], np.zeros(2, bool))
    rng = np.random.default_rng(0)
    everywhere = buffer.sample_segments(200, 5, rng, "a").obs[:, 0, 0]
    recent = buffer.sample_segments(200, 5, rng, "b", recent_steps=20).obs[:, 0, 0]  # 10 steps per env
    assert everywhere.min() < 40 and recent.min() >= 70 and recent.max() <= 75
