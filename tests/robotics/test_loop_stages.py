"""The loop's stages, each tested with small fakes in place of the others (no SB3 agent, no simulator):
the order the loop runs them in (synchronous, background refits, PEBBLE's pre-training, a resume), and the reward
fitter, query asker, teacher labeller and checkpointer on their own."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from test_loop import synchronous  # tests/robotics is on sys.path (rootdir-relative, no __init__)

from rlhf_robotics.preference.ensemble import MLPConfig, build_step_ensemble
from rlhf_robotics.preference.records import Judgment, Query
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.teachers import Teacher, preset
from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.checkpoint import Checkpointer
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    OffPolicyConfig,
    PretrainConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.labeller import QueryAsker, TeacherLabeller
from rlhf_robotics.robotics.loop import PreferenceLoop, Stages
from rlhf_robotics.robotics.policy import PhaseTimer
from rlhf_robotics.robotics.reward_fit import RewardFitter
from rlhf_robotics.robotics.run_log import MetricsLog
from rlhf_robotics.robotics.segments import SegmentFeatures, Segments, SegmentStore
from rlhf_robotics.typed_config import from_mapping

OBS, ACT, T = 3, 1, 4


def segments(n: int, rng: np.random.Generator, prefix: str) -> Segments:
    """``n`` random segments whose true reward is the first observation coordinate (learnable from features)."""
    obs = rng.normal(size=(n, T, OBS)).astype(np.float32)
    return Segments(ids=[f"{prefix}-{i}" for i in range(n)], obs=obs, act=rng.normal(size=(n, T, ACT)).astype(np.float32),
                    reward=obs[..., 0].copy(), qpos=np.zeros((n, T, 1)), qvel=np.zeros((n, T, 1)), env_id="toy", dt=0.1)


class FakeBuffer:
    def __init__(self) -> None:
        self.data = np.random.default_rng(0).normal(size=(500, OBS + ACT)).astype(np.float32)

    def sample_steps(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, len(self.data), n)
        return self.data[idx], self.data[idx, 0]

    def sample_segments(self, n: int, length: int, rng: np.random.Generator, prefix: str, *a: Any) -> Segments:
        return segments(n, rng, prefix)


class FakeCollector:
    segment_steps, obs_dim, act_dim, venv, obs_rms = T, OBS, ACT, None, None

    def __init__(self, events: list[tuple]) -> None:
        self.events, self.buffer = events, FakeBuffer()
        self.installed: list[Any] = []

    def segments(self, n: int, rng: np.random.Generator, prefix: str, recent_steps: int | None = None,
                 same_episode: float = 0.0, cover_episode_edges: bool = False) -> Segments:
        return segments(n, rng, prefix)

    def install(self, reward: Any) -> None:
        self.events.append(("install",))
        self.installed.append(reward)

    def frozen_statistics(self) -> Any:
        self.events.append(("frozen_statistics",))
        return nullcontext()

    def close(self) -> None:
        pass


class FakeAgent:
    curve_interval = 0

    def __init__(self, events: list[tuple], die_in_learn: int = 0) -> None:
        self.events, self.num_timesteps, self.curve, self.model = events, 0, [], None
        self.learns, self.die_in_learn = 0, die_in_learn

    rollout = 25
    """Env steps per rollout when a ``before_rollout`` hook is given (the learning is then noted per rollout)."""

    def learn(self, steps: int, desc: str, before_rollout: Any = None, after_rollout: Any = None) -> None:
        self.learns += 1
        if self.learns == self.die_in_learn:
            raise KeyboardInterrupt
        hooked = before_rollout is not None or after_rollout is not None
        if not hooked:
            self.events.append(("learn", steps))
        for done in range(0, steps, self.rollout) if hooked else ():
            n = min(self.rollout, steps - done)
            if before_rollout is not None:
                before_rollout(done)
            if after_rollout is not None:  # collected, not yet learned from: a returned reward relabels it
                self.events.append(("collect_rollout", n))
                if after_rollout(done + n) is not None:
                    self.events.append(("relabel_rollout",))
                self.events.append(("update", n))
            else:
                self.events.append(("learn", n))
        self.num_timesteps += steps
        self.curve.append({"step": float(self.num_timesteps), "policy/return_true": 1.0})

    def collect(self, steps: int) -> None:
        self.events.append(("collect", steps))

    def relabel(self, reward: Any) -> None:
        self.events.append(("relabel",))

    def end_pretraining(self) -> None:
        self.events.append(("end_pretraining",))

    def hand_over(self) -> None:
        self.events.append(("hand_over",))

    def record(self, row: dict[str, Any]) -> None:
        pass

    def save(self, directory: Path) -> None:
        (directory / "policy.txt").write_text(str(self.num_timesteps))

    def load(self, directory: Path, num_timesteps: int, curve: list) -> None:
        self.events.append(("load", directory.name))
        self.num_timesteps, self.curve = num_timesteps, curve


class RecordingFitter(RewardFitter):
    """The real fitter, noting when it refits."""

    def __init__(self, events: list[tuple], *args: Any) -> None:
        super().__init__(*args)
        self.events = events

    def fit(self, round: int) -> Any:
        self.events.append(("fit", round))
        return super().fit(round)

    def start(self, round: int) -> Any:
        self.events.append(("start", round))
        return super().start(round)


class FakeReport:
    def initial_evaluation(self, agent: Any, collector: Any) -> Any:
        return SimpleNamespace(returns=None, success=None)

    def write(self, *args: Any) -> str:
        return "summary"


def config(run_dir: Path, **kw: Any) -> ExperimentConfig:
    return ExperimentConfig(env=EnvConfig(id="InvertedPendulum-v5", n_envs=1, segment_steps=T),
                            labels=LabelsConfig(total=20, rounds=3, initial_fraction=0.4, schedule_timescale=1e9),
                            reward_model=synchronous(RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=3))),
                            total_steps=300, seed=0, run_dir=str(run_dir), baseline=False, video=False, **kw)


def fake_loop(c: ExperimentConfig, events: list[tuple], die_in_learn: int = 0) -> PreferenceLoop:
    run_dir = Path(c.run_dir)
    run_dir.mkdir(exist_ok=True)
    rng = {k: np.random.default_rng(i) for i, k in enumerate(("segments", "selection", "teacher", "reward_model", "evaluation"))}
    store, timer = PreferenceStore(run_dir / "preferences.sqlite"), PhaseTimer()
    features = SegmentFeatures(SegmentStore(run_dir / "segments"))
    collector = FakeCollector(events)
    fitter = RecordingFitter(events, c, store, features, collector.buffer, rng["reward_model"], timer, OBS + ACT)
    labeller = TeacherLabeller(Teacher(preset("oracle"), rng["teacher"], "oracle"), "reward", None, store, features,
                               str(run_dir), timer)
    stages = Stages(FakeAgent(events, die_in_learn), collector, QueryAsker(store, features, 2.0, "toy", rng),  # type: ignore[arg-type]
                    labeller, fitter, Checkpointer(run_dir), FakeReport(), MetricsLog(run_dir / "metrics.jsonl"),  # type: ignore[arg-type]
                    store, rng, timer)
    return PreferenceLoop(c, stages)


def run(c: ExperimentConfig, die_in_learn: int = 0, resume: bool = False) -> list[tuple]:
    events: list[tuple] = []
    loop = fake_loop(c, events, die_in_learn)
    try:
        loop.run(resume=resume)
    finally:
        loop.close()
    return events


def test_synchronous_rounds_label_then_refit_and_spend_the_whole_budget(tmp_path: Path) -> None:
    events = run(config(tmp_path))
    kinds = [e[0] for e in events]
    # round 0: the initial policy's rollouts, then the first fit; each later round: learn → fit → install; the agent
    # is told to relabel after each install (PPO's does nothing)
    assert kinds[:4] == ["collect", "fit", "install", "relabel"]
    assert kinds[4:] == ["learn", "fit", "install", "relabel"] * 3
    assert sum(e[1] for e in events if e[0] == "learn") == 300
    with PreferenceStore(tmp_path / "preferences.sqlite") as s:
        assert s.count_queries() == 20 and s.count_judgments() == 20


def test_background_refits_start_before_the_policy_learns(tmp_path: Path) -> None:
    c = config(tmp_path)
    events = run(dataclasses.replace(c, reward_model=dataclasses.replace(c.reward_model, async_training=True)))
    kinds = [e[0] for e in events]
    assert kinds[4:] == ["start", "learn", "install", "relabel"] * 3  # the refit runs while the agent learns
    assert [e[1] for e in events if e[0] == "start"] == [1, 2, 3]


def test_a_background_refit_can_take_over_a_set_number_of_steps_into_the_round(tmp_path: Path) -> None:
    c = config(tmp_path)
    events = run(dataclasses.replace(c, reward_model=dataclasses.replace(c.reward_model, async_training=True,
                                                                          async_install_steps=40)))
    # 100 steps a round in rollouts of 25: the refit is installed before the first rollout at least 40 steps in
    per_round = [("start",), ("learn", 25), ("learn", 25), ("install",), ("relabel",), ("learn", 25), ("learn", 25)]
    assert [e[:1] if e[0] != "learn" else e for e in events[4:]] == per_round * 3
    assert [e[1] for e in events if e[0] == "start"] == [1, 2, 3]


def test_a_relabelling_refit_takes_over_after_a_rollout_is_collected_and_before_the_policy_learns_from_it(
        tmp_path: Path) -> None:
    c = config(tmp_path)
    for after, rollouts_before in ((0, 0), (40, 1)):
        rm = dataclasses.replace(c.reward_model, async_training=True, async_install_steps=after, async_relabel=True)
        events = run(dataclasses.replace(c, reward_model=rm))
        # rollouts of 25: the refit goes in at the end of the first rollout that ends >= `after` steps into the round,
        # and that rollout is relabelled before its update; the later rollouts are collected under the new reward
        rollout = [("collect_rollout", 25), ("update", 25)]
        per_round = [("start",), *rollout * rollouts_before, ("collect_rollout", 25), ("install",), ("relabel",),
                     ("relabel_rollout",), ("update", 25), *rollout * (3 - rollouts_before)]
        assert [e[:1] if e[0] in ("start", "install", "relabel", "relabel_rollout") else e for e in events[4:]] == per_round * 3


def test_async_relabel_needs_a_background_refit_and_ppo() -> None:
    with pytest.raises(ValueError, match="async_relabel=true relabels the rollout a background refit takes over in"):
        RewardModelConfig(async_training=False, async_relabel=True)
    with pytest.raises(ValueError, match=r"relabels PPO's rollout \(algo=sac\)"):
        ExperimentConfig(algo="sac", reward_model=RewardModelConfig(async_training=True, async_install_steps=0,
                                                                    async_relabel=True))
    with pytest.raises(ValueError, match=r"relabels PPO's rollout \(algo=td3\)"):
        ExperimentConfig(algo="td3", reward_model=RewardModelConfig(async_relabel=True))
    # without a step count the relabelled rollout is the round's first
    rm = ExperimentConfig(reward_model=RewardModelConfig(async_training=True, async_relabel=True)).reward_model
    assert rm.async_install_steps == 0


def test_async_install_steps_needs_a_background_refit_and_a_step_count() -> None:
    with pytest.raises(ValueError, match="async_install_steps=100 only applies to a background refit"):
        RewardModelConfig(async_training=False, async_install_steps=100)
    with pytest.raises(ValueError, match="async_install_steps=100 only applies to a background refit"):
        ExperimentConfig(algo="sac", reward_model=RewardModelConfig(async_install_steps=100))  # sync off-policy
    with pytest.raises(ValueError, match="reward_model.async_install_steps"):
        RewardModelConfig(async_training=True, async_install_steps=-1)


def test_the_default_refit_relabels_in_the_background_under_ppo_and_is_synchronous_off_policy() -> None:
    ppo = ExperimentConfig().reward_model
    assert (ppo.async_training, ppo.async_relabel, ppo.async_install_steps, ppo.refit_worker,
            ppo.techniques.stop_accuracy) == (True, True, 0, "process", 0.97)
    for algo in ("sac", "td3"):
        rm = ExperimentConfig(algo=algo).reward_model
        assert (rm.async_training, rm.async_relabel, rm.async_install_steps, rm.techniques.stop_accuracy) == (
            False, False, None, 0.97), algo
    # explicit choices are kept: a round-late background refit, a synchronous PPO loop
    late = ExperimentConfig(reward_model=RewardModelConfig(async_training=True, async_relabel=False)).reward_model
    assert (late.async_training, late.async_relabel, late.async_install_steps) == (True, False, None)
    sync = ExperimentConfig(reward_model=RewardModelConfig(async_training=False)).reward_model
    assert (sync.async_training, sync.async_relabel, sync.async_install_steps) == (False, False, None)
    # dropout draws from the agent's generator, so the automatic choice refits synchronously; asked for, it is refused
    dropout = ExperimentConfig(reward_model=RewardModelConfig(mlp=MLPConfig(dropout=0.1))).reward_model
    assert not dropout.async_training and not dropout.async_relabel
    with pytest.raises(ValueError, match="async_training=true needs reward_model.mlp.dropout=0"):
        RewardModelConfig(async_training=True, mlp=MLPConfig(dropout=0.1))
    # the resolved settings are what config.json stores, and they load back as they were
    config = ExperimentConfig()
    assert from_mapping(ExperimentConfig, dataclasses.asdict(config)) == config


def test_pebble_pretrains_then_relabels_and_hands_over_before_the_rounds(tmp_path: Path) -> None:
    c = config(tmp_path, algo="sac", off_policy=OffPolicyConfig(learning_starts=20), pretrain=PretrainConfig(steps=80))
    events = run(c)
    kinds = [e[0] for e in events]
    assert events[0] == ("learn", 100)  # seed + pre-training steps, before any label
    assert kinds[1:6] == ["end_pretraining", "fit", "install", "relabel", "hand_over"]
    assert kinds[6:] == ["learn", "fit", "install", "relabel"] * 3  # relabelled after every refit
    assert sum(e[1] for e in events if e[0] == "learn") == 300  # pre-training counts toward total_steps


def test_ppo_pretrains_on_the_state_entropy_of_its_rollouts_then_hands_over(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.exploration import StateEntropyReward

    events: list[tuple] = []
    loop = fake_loop(config(tmp_path, pretrain=PretrainConfig(steps=80)), events)
    try:
        loop.run()
    finally:
        loop.close()
    kinds = [e[0] for e in events]
    assert events[:2] == [("install",), ("learn", 80)]  # the entropy reward, then pre-training (no seed steps for PPO)
    assert isinstance(loop.s.collector.installed[0].fn, StateEntropyReward)  # type: ignore[attr-defined]
    assert kinds[2:7] == ["end_pretraining", "fit", "install", "relabel", "hand_over"]  # learned reward from round 0
    assert kinds[7:] == ["learn", "fit", "install", "relabel"] * 3
    assert sum(e[1] for e in events if e[0] == "learn") == 300


def test_a_killed_run_resumes_after_its_last_checkpoint(tmp_path: Path) -> None:
    c = config(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(c, die_in_learn=2)  # dies in round 2's learning
    with PreferenceStore(tmp_path / "preferences.sqlite") as s:
        asked_before = s.count_queries()
    events = run(c, resume=True)
    kinds = [e[0] for e in events]
    assert events[:2] == [("load", "round_001"), ("install",)]  # the checkpoint's reward model is the reward again
    assert kinds[2:4] == ["frozen_statistics", "collect"]  # the buffer is refilled without moving the statistics
    assert kinds[4:] == ["learn", "fit", "install", "relabel"] * 2  # rounds 2 and 3 only
    with PreferenceStore(tmp_path / "preferences.sqlite") as s:
        assert asked_before < s.count_queries() == 20


# -- the stages on their own ----------------------------------------------------------------------------------
def _fitter_with_labels(tmp_path: Path, n: int, c: ExperimentConfig | None = None) -> RewardFitter:
    c = c or config(tmp_path)
    store, rng = PreferenceStore(tmp_path / "p.sqlite"), np.random.default_rng(0)
    features = SegmentFeatures(SegmentStore(tmp_path / "segments"))
    segs = segments(2 * n, rng, "s")
    features.save("batch", segs, segs.features())
    ids = store.add_queries([Query(segs.ids[2 * k], segs.ids[2 * k + 1]) for k in range(n)])
    better = segs.returns()[0::2] > segs.returns()[1::2]
    store.add_judgments([Judgment(q, "first" if b else "second", "oracle") for q, b in zip(ids, better)])
    return RewardFitter(c, store, features, FakeBuffer(), np.random.default_rng(1), PhaseTimer(), OBS + ACT)  # type: ignore[arg-type]


def test_synchronous_and_background_refits_are_the_same_computation(tmp_path: Path) -> None:
    a = _fitter_with_labels(tmp_path / "a", 40)
    b = _fitter_with_labels(tmp_path / "b", 40)
    ens_a, metrics_a = a.fit(1)
    ens_b, metrics_b = b.start(1).result()
    assert ens_a is not None and ens_b is not None and metrics_a == metrics_b
    for (name, wa), wb in zip(ens_a.state_dict().items(), ens_b.state_dict().values()):
        assert torch.equal(wa, wb), name
    assert b.timer.seconds["reward_training_background"] > 0
    a.close(), b.close()


def test_a_refit_in_a_worker_process_is_the_threads_computation(tmp_path: Path) -> None:
    from rlhf_robotics.preference.techniques import REEDConfig, TechniquesConfig

    c = config(tmp_path)
    c = dataclasses.replace(c, reward_model=dataclasses.replace(
        c.reward_model, techniques=TechniquesConfig(reed=REEDConfig(enabled=True, epochs=1))))
    thread = _fitter_with_labels(tmp_path / "t", 30, c)
    process = _fitter_with_labels(tmp_path / "p", 30, dataclasses.replace(
        c, reward_model=dataclasses.replace(c.reward_model, refit_worker="process")))
    for round in (1, 2):  # the second refit continues from the first one's random stream and REED heads
        (ens_t, m_t), (ens_p, m_p) = thread.start(round).result(), process.start(round).result()
        assert ens_t is not None and ens_p is not None and repr(m_t) == repr(m_p)  # repr: NaN fields compare equal
        assert all(torch.equal(a, b) for a, b in zip(ens_t.state_dict().values(), ens_p.state_dict().values()))
        assert thread.rng.bit_generator.state == process.rng.bit_generator.state
        thread.install(ens_t), process.install(ens_p)
    assert process.self_predictive is not None and process.timer.seconds["reward_training_background"] > 0
    thread.close(), process.close()


def test_the_worker_s_warm_up_fit_leaves_torch_s_random_stream_where_it_was() -> None:
    from rlhf_robotics.robotics.reward_fit import _warm_up

    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    _warm_up()  # a tiny fit: the refits after it in the worker draw what they would have drawn without it
    assert torch.equal(torch.rand(4), expected)


def test_the_fitter_learns_the_labels_and_follows_the_store(tmp_path: Path) -> None:
    c = config(tmp_path)
    c = dataclasses.replace(c, reward_model=dataclasses.replace(c.reward_model, trainer=RewardTrainerConfig(epochs=40)))
    fitter = _fitter_with_labels(tmp_path, 60, c)
    untouched = [v.clone() for v in fitter.ensemble.state_dict().values()]
    ensemble, metrics = fitter.fit(0)
    assert ensemble is not None and metrics is not None and metrics.n_train + metrics.n_val == 60
    assert all(torch.equal(a, b) for a, b in zip(untouched, fitter.ensemble.state_dict().values()))  # a copy was fitted
    fitter.install(ensemble)
    rng = np.random.default_rng(5)
    fresh = segments(400, rng, "fresh")
    pred = fitter.segment_scores(fresh.features())
    true = fresh.returns()
    assert np.mean((pred[0::2] > pred[1::2]) == (true[0::2] > true[1::2])) > 0.85
    # judgments that arrive later (people labelling while the policy trains) are read by cursor
    segs = segments(2, rng, "late")
    fitter.features.save("late", segs, segs.features())
    q = fitter.store.add_queries([Query(segs.ids[0], segs.ids[1])])
    fitter.store.add_judgments([Judgment(q[0], "tie", "person")])
    assert len(fitter.dataset()) == 61
    fitter.close()


def test_no_judgments_no_refit(tmp_path: Path) -> None:
    c = config(tmp_path)
    store = PreferenceStore(tmp_path / "p.sqlite")
    fitter = RewardFitter(c, store, SegmentFeatures(SegmentStore(tmp_path / "s")), FakeBuffer(), np.random.default_rng(0),  # type: ignore[arg-type]
                          PhaseTimer(), OBS + ACT)
    assert fitter.fit(0) == (None, None) and fitter.start(1).result() == (None, None)
    fitter.close()


def test_the_asker_stores_pairs_under_new_names_even_when_a_round_is_redone(tmp_path: Path) -> None:
    store = PreferenceStore(tmp_path / "p.sqlite")
    features = SegmentFeatures(SegmentStore(tmp_path / "segments"))
    rng = {"segments": np.random.default_rng(0), "selection": np.random.default_rng(1)}
    asker = QueryAsker(store, features, 4.0, "toy", rng)
    ensemble = build_step_ensemble(OBS + ACT, 3)
    collector = FakeCollector([])
    segs, ids = asker.ask(5, "disagreement", 1, collector, ensemble)
    assert len(ids) == 5 and len(segs) == 10 and store.count_queries() == 5
    assert all(sq.query.selector == "disagreement" and sq.query.meta["round"] == 1 for sq in store.queries())
    (tmp_path / "segments" / "round_001_000005.npz").write_bytes(b"left by a killed process")
    segs2, _ = asker.ask(2, "uniform", 1, collector, ensemble)
    assert segs2.ids[0].startswith("r001-q000005-1-")  # never overwrites a stored batch
    np.testing.assert_array_equal(features.stack(segs.ids[:2]), segs.features()[:2])


def test_the_teacher_answers_what_a_killed_run_left_unanswered(tmp_path: Path) -> None:
    store = PreferenceStore(tmp_path / "p.sqlite")
    features = SegmentFeatures(SegmentStore(tmp_path / "segments"))
    segs = segments(6, np.random.default_rng(0), "s")
    features.save("b", segs, segs.features())
    ids = store.add_queries([Query(segs.ids[2 * k], segs.ids[2 * k + 1]) for k in range(3)])
    labeller = TeacherLabeller(Teacher(preset("oracle"), np.random.default_rng(0), "oracle"), "reward", None, store,
                               features, str(tmp_path), PhaseTimer())
    labeller.deliver(segs.take([0, 1]), ids[:1], 0)
    assert labeller.answer_pending() == 2 and labeller.answer_pending() == 0
    returns = segs.returns()
    want = ["first" if returns[2 * k] > returns[2 * k + 1] else "second" for k in range(3)]
    assert [row.judgment.label for row in store.judgments()] == want


def test_checkpoints_restore_the_reward_model_and_name_the_last_round(tmp_path: Path) -> None:
    from rlhf_robotics.preference.ensemble import EnsembleMetadata, MLPConfig

    ckpt, ensemble = Checkpointer(tmp_path), build_step_ensemble(OBS + ACT, 2, seed=3)
    agent = FakeAgent([])
    assert ckpt.latest() is None
    for r in (0, 1):
        ckpt.save(r, agent, ensemble, EnsembleMetadata(OBS + ACT, 2, MLPConfig()), None, {"num_timesteps": 10 * r})  # type: ignore[arg-type]
    d, state = ckpt.latest()  # type: ignore[misc]
    assert d.name == "round_001" and state == {"round": 1, "num_timesteps": 10}
    other = build_step_ensemble(OBS + ACT, 2, seed=4)
    ckpt.restore(d, other, None)  # type: ignore[arg-type]
    assert all(torch.equal(a, b) for a, b in zip(ensemble.state_dict().values(), other.state_dict().values()))
    ckpt.save_final_state({"evaluation": {"x": 1.0}})
    assert ckpt.final_state() == {"evaluation": {"x": 1.0}}
    assert ckpt.keep_latest_only() == [tmp_path / "checkpoints" / "round_000"]  # a finished run keeps its last
    assert [p.name for p in (tmp_path / "checkpoints").glob("round_*")] == ["round_001"] and ckpt.latest() is not None


def test_a_policy_without_a_reward_model_is_checkpointed_where_the_readers_look(tmp_path: Path) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from rlhf_robotics.robotics.saved_run import checkpoint_dir, load_obs_rms

    venv = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
    venv.reset()
    for _ in range(5):  # statistics away from their initial values
        venv.step(np.array([[1.0]]))
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=8, seed=0, device="cpu")
    d = Checkpointer(tmp_path).save_policy(0, model, venv, {"num_timesteps": 8, "reward": "true"})
    assert checkpoint_dir(tmp_path) == d and (d / "policy.zip").is_file()
    rms = load_obs_rms(tmp_path)
    assert rms is not None and np.allclose(rms.mean, venv.obs_rms.mean) and rms.count == venv.obs_rms.count
    obs = np.zeros(3, dtype=np.float32)
    assert np.allclose(PPO.load(d / "policy.zip").predict(obs, deterministic=True)[0],
                       model.predict(obs, deterministic=True)[0])
