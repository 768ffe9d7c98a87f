from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    PPOConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import build_loop, run_experiment
from rlhf_robotics.robotics.schedule import label_schedule, segment_length


def test_label_schedule_sums_to_budget_and_decays() -> None:
    s = label_schedule(700, 0.25, 10, 1_000_000, 0.25)
    assert sum(s) == 700 and s[0] == 175
    later = s[1:]
    assert all(a >= b for a, b in zip(later, later[1:])) and later[0] > 2 * later[-1]
    assert label_schedule(5, 0.0, 10, 100, 0.25)[0] == 0 and sum(label_schedule(5, 0.0, 10, 100, 0.25)) == 5


def test_segment_length_follows_seconds_within_paper_bounds() -> None:
    assert segment_length(0.05, 1.5, None, 15, 60) == 30  # HalfCheetah: 1.5 s = 30 steps
    assert segment_length(0.008, 1.5, None, 15, 60) == 60  # Hopper: 187 steps clipped to 60
    assert segment_length(0.05, 1.5, 7, 15, 60) == 7
    with pytest.raises(ValueError, match="segment_steps"):
        segment_length(0.05, 1.5, 0, 15, 60)


def synchronous(rm: RewardModelConfig) -> RewardModelConfig:
    """``rm`` with the refit most loop tests were written for and the fingerprints recorded with: synchronous, every
    member trained its full epochs (the default until issue 13 made PPO's the relabelling background refit)."""
    return dataclasses.replace(rm, async_training=False, async_relabel=False, async_install_steps=None,
                               refit_worker="thread", techniques=dataclasses.replace(rm.techniques, stop_accuracy=None))


def tiny(run_dir: Path, seed: int = 0, **kw) -> ExperimentConfig:
    kw.setdefault("reward_model", synchronous(RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5))))
    return ExperimentConfig(
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=24, rounds=3, initial_steps=200, buffer_steps=400),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        total_steps=384, seed=seed, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False,
        **kw,
    )


def _labels(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / "preferences.sqlite") as c:
        return c.execute("SELECT q.first, q.second, j.label FROM judgments j JOIN queries q ON q.id = j.query_id ORDER BY j.id").fetchall()


def _weights(run_dir: Path, rnd: int = 3) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / f"round_{rnd:03d}" / "reward_model.pt", weights_only=True)


def test_same_seed_same_labels_and_reward_weights(tmp_path: Path) -> None:
    a = run_experiment(tiny(tmp_path / "a"), progress=False)
    run_experiment(tiny(tmp_path / "b"), progress=False)
    run_experiment(tiny(tmp_path / "c", seed=1), progress=False)
    assert a.labels_used == 24
    assert _labels(tmp_path / "a") == _labels(tmp_path / "b")
    wa, wb, wc = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["labels_used"] == 24 and (tmp_path / "a" / "learning_curve.png").stat().st_size > 0
    rows = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows[:4]] == [0, 1, 2, 3] and "reward_model/val_loss" in rows[0]


class DiesInSecondLearn:
    """The run's agent, killed (as by Ctrl-C) when the loop asks it to learn for the second time."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.calls = agent, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def learn(self, steps: int, desc: str) -> None:
        self.calls += 1
        if self.calls == 2:  # killed during round 2's policy update
            raise KeyboardInterrupt
        self.agent.learn(steps, desc)


def test_killed_run_resumes_without_losing_judgments(tmp_path: Path) -> None:
    config = tiny(tmp_path / "run")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(asdict(config)))
    loop = build_loop(config, progress=False)
    loop.s.agent = DiesInSecondLearn(loop.s.agent)  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run()
    finally:
        loop.close()
    before = _labels(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["round"] == 1
    summary = run_experiment(config, resume=True, progress=False)
    after = _labels(tmp_path / "run")
    assert after[: len(before)] == before  # nothing lost or rewritten
    assert summary.labels_used == 24 and len(after) == 24
    assert json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["round"] == 3


def test_existing_run_dir_is_refused_and_untouched(tmp_path: Path) -> None:
    run_experiment(tiny(tmp_path / "run"), progress=False)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="already holds a run"):
        run_experiment(tiny(tmp_path / "run"), progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()} == files


def test_teacher_labels_follow_true_returns(tmp_path: Path) -> None:
    run_experiment(tiny(tmp_path / "run"), progress=False)
    with sqlite3.connect(tmp_path / "run" / "preferences.sqlite") as c:
        rows = c.execute("SELECT q.meta, j.label FROM judgments j JOIN queries q ON q.id = j.query_id").fetchall()
    for meta, label in rows:
        m = json.loads(meta)
        if m["true_return_first"] != m["true_return_second"]:
            assert label == ("first" if m["true_return_first"] > m["true_return_second"] else "second")


def test_bad_config_values_fail_fast() -> None:
    with pytest.raises(ValueError, match="labels.total must be a positive"):
        LabelsConfig(total=-5)
    with pytest.raises(ValueError, match="unknown teacher preset 'perfectionist'"):
        from rlhf_robotics.robotics.config import TeacherSettings

        TeacherSettings(preset="perfectionist")
    with pytest.raises(ValueError, match="unknown environment id 'HalfCheeta-v5'.*HalfCheetah-v5"):
        from rlhf_robotics.robotics.physics import check_env_id

        check_env_id("HalfCheeta-v5")


def test_asynchronous_refits_are_deterministic_and_keep_the_budget(tmp_path: Path) -> None:
    def async_config(run: Path) -> ExperimentConfig:
        rm = RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5), async_training=True,
                               async_relabel=False)  # taken over at the round's end
        return tiny(run, reward_model=rm)

    a = run_experiment(async_config(tmp_path / "a"), progress=False)
    run_experiment(async_config(tmp_path / "b"), progress=False)
    s = run_experiment(tiny(tmp_path / "sync"), progress=False)
    assert a.labels_used == s.labels_used == 24
    assert "reward_training_background" in a.wall_seconds and "reward_training_background" not in s.wall_seconds
    assert _labels(tmp_path / "a") == _labels(tmp_path / "b")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_refit_installed_a_set_number_of_steps_into_the_round_is_deterministic(tmp_path: Path) -> None:
    def early(run: Path, after: int | None = 128) -> ExperimentConfig:
        rm = RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5), async_training=True,
                               async_install_steps=after, async_relabel=False)
        return dataclasses.replace(tiny(run, reward_model=rm), total_steps=768)  # 256 steps a round: 2 rollouts

    a = run_experiment(early(tmp_path / "a"), progress=False)
    run_experiment(early(tmp_path / "b"), progress=False)
    late = run_experiment(early(tmp_path / "late", None), progress=False)
    assert a.labels_used == late.labels_used == 24
    assert _labels(tmp_path / "a") == _labels(tmp_path / "b")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # the policy learned half of each round on the new reward instead of none of it, so from round 2 on it was shown
    # other segments: a different run from the round-late one
    wl = _weights(tmp_path / "late")
    assert not all(torch.equal(wa[k], wl[k]) for k in wa)


def test_a_relabelling_refit_gives_each_round_s_first_rollout_the_new_reward(tmp_path: Path, monkeypatch) -> None:
    import rlhf_robotics.robotics.agent as agent_module

    calls: list[tuple[int, np.ndarray, np.ndarray]] = []
    real = agent_module.relabel_rollout

    def spy(buffer, recorded, reward_fn, *rest):
        before = buffer.rewards.copy()
        new = real(buffer, recorded, reward_fn, *rest)
        calls.append((len(recorded), new, buffer.rewards - before))
        return new

    monkeypatch.setattr(agent_module, "relabel_rollout", spy)
    rm = RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5), async_training=True,
                           async_install_steps=0, async_relabel=True, refit_worker="process")
    a = run_experiment(dataclasses.replace(tiny(tmp_path / "a", reward_model=rm), total_steps=768), progress=False)
    assert a.labels_used == 24 and "reward_training_background" in a.wall_seconds
    # rounds 1-3 (256 steps, 2 rollouts of 64 × 2 envs each): the first rollout of each is relabelled, once
    assert [n for n, _, _ in calls] == [64, 64, 64]
    assert all(np.abs(moved).max() > 0 for _, _, moved in calls)  # the stored rewards did change
    run_experiment(dataclasses.replace(tiny(tmp_path / "b", reward_model=rm), total_steps=768), progress=False)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # deterministic: the switch is at a step count


def test_input_statistics_follow_the_labelled_segments_only_when_per_round(tmp_path: Path) -> None:
    def stats(run: Path, rnd: int) -> torch.Tensor:
        return _weights(run, rnd)["members.0.input_mean"]

    run_experiment(tiny(tmp_path / "per_round"), progress=False)
    run_experiment(tiny(tmp_path / "initial", reward_model=RewardModelConfig(input_statistics="initial")), progress=False)
    assert torch.equal(stats(tmp_path / "per_round", 0), stats(tmp_path / "initial", 0))  # round 0: the initial policy
    assert torch.equal(stats(tmp_path / "initial", 3), stats(tmp_path / "initial", 0))
    assert not torch.equal(stats(tmp_path / "per_round", 3), stats(tmp_path / "per_round", 0))
    with pytest.raises(ValueError, match="input_statistics='rolling'; expected per_round or initial"):
        RewardModelConfig(input_statistics="rolling")


def test_async_refit_with_dropout_is_refused() -> None:
    from rlhf_robotics.preference.ensemble import MLPConfig

    with pytest.raises(ValueError, match="needs reward_model.mlp.dropout=0"):
        RewardModelConfig(mlp=MLPConfig(dropout=0.1), async_training=True)


def test_rubric_teacher_judges_on_reweighted_physics_rubric(tmp_path: Path) -> None:
    from rlhf_robotics.envs import physics_rubric, step_scores

    from rlhf_robotics.robotics.config import TeacherSettings
    from rlhf_robotics.robotics.segments import SegmentStore

    rubric = physics_rubric("rlhf_robotics/ReacherSmooth-v1")
    weights = {c.name: (0.0 if c.weight else 1.0) for c in rubric.criteria}  # judge only on what the objective ignores
    config = tiny(tmp_path / "run", teacher=TeacherSettings(judge_on="rubric", rubric_weights=weights))
    config.env = EnvConfig(id="rlhf_robotics/ReacherSmooth-v1", n_envs=2, segment_steps=10)
    run_experiment(config, progress=False)
    segments = SegmentStore(tmp_path / "run" / "segments")
    reweighted = rubric.weighted(weights)
    with sqlite3.connect(tmp_path / "run" / "preferences.sqlite") as c:
        rows = c.execute("SELECT q.first, q.second, j.label FROM judgments j JOIN queries q ON q.id = j.query_id").fetchall()
    disagree_with_reward = 0
    for first, second, label in rows:
        segs = segments.get([first, second])
        score = step_scores(reweighted, segs.terms).sum(-1)
        if score[0] != score[1]:
            assert label == ("first" if score[0] > score[1] else "second")
        disagree_with_reward += (score[0] > score[1]) != (segs.returns()[0] > segs.returns()[1])
    assert disagree_with_reward > 0  # the rubric teacher is not the reward teacher in disguise
    questions = json.loads((tmp_path / "run" / "rubric.json").read_text())
    assert [q["name"] for q in questions] == list(rubric.names)


def test_rubric_teacher_needs_a_task_with_a_rubric(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.config import TeacherSettings

    with pytest.raises(ValueError, match="needs a task with a physics rubric; InvertedPendulum-v5 has none"):
        run_experiment(tiny(tmp_path / "run", teacher=TeacherSettings(judge_on="rubric")), progress=False)


def test_score_against_a_fixed_reference_return(tmp_path: Path) -> None:
    from dataclasses import replace

    c = tiny(tmp_path / "run")
    s = run_experiment(replace(c, env=replace(c.env, reference_return=1000.0)), progress=False)
    rand = s.random_return_true.mean
    assert s.reference_return == 1000.0
    assert s.score_vs_reference == pytest.approx((s.policy_return_true.mean - rand) / (1000.0 - rand))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["score_vs_reference"] == pytest.approx(s.score_vs_reference)


def test_published_reference_returns_of_the_gymnasium_tasks() -> None:
    import yaml  # type: ignore[import-untyped]

    from rlhf_robotics.robotics.config import EnvConfig
    from rlhf_robotics.robotics.summary import Summary

    conf = Path(__file__).resolve().parents[2] / "conf" / "env"
    refs = {name: yaml.safe_load((conf / f"{name}.yaml").read_text())["reference_return"]
            for name in ("halfcheetah", "hopper", "swimmer", "ant", "walker2d")}
    assert refs == {"halfcheetah": 5819.099, "hopper": 2410.435, "swimmer": 281.561, "ant": 1327.158, "walker2d": 3478.798}
    assert EnvConfig().reference_return is None
    old = {f: None for f in Summary.__dataclass_fields__ if f not in ("reference_return", "score_vs_reference")}
    assert Summary.from_json(old).score_vs_reference is None  # summaries written before the field still load
