"""The online preference loop (Christiano et al. 2017), composed from small stages:

    initial policy rollouts → label a share of the budget → fit the reward ensemble
    repeat per round: PPO on the learned reward (records segments) → select pairs → label → refit → checkpoint
    evaluate on the hidden true objective (+ PPO on the true reward at equal steps) → summary, plot, video

Judgments go through the SQLite preference store and the trainer follows it by id cursor, so labels from
people in the web app are consumed as they arrive. Every round ends in a checkpoint; ``resume=True`` picks up
after the last one without losing a judgment.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import configure as configure_logger
from stable_baselines3.common.vec_env import VecNormalize

from rlhf_robotics.preference.ensemble import (
    EnsembleMetadata,
    RewardEnsemble,
    StackedStepReward,
    build_step_ensemble,
)
from rlhf_robotics.preference.records import Judgment, Query, StoredJudgment, aggregate_targets
from rlhf_robotics.preference.reliability import ReliabilityFit, training_targets
from rlhf_robotics.preference.rundir import (
    RunPaths,
    atomic_write,
    write_instruction,
    write_rubric,
    write_status,
)
from rlhf_robotics.preference.selection import candidate_count, select
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.teachers import Teacher, preset
from rlhf_robotics.preference.trainer import (
    PairDataset,
    RewardTrainerConfig,
    RewardTrainerMetrics,
    train_ensemble,
)
from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.evaluation import (
    PolicyEvaluation,
    ReturnStats,
    SuccessRate,
    evaluate_policy,
    fraction_of_baseline,
    normalized_score,
    pair_accuracy,
    pearson,
    plot_learning_curves,
    record_video,
)
from rlhf_robotics.robotics.exploration import reset_critic
from rlhf_robotics.robotics.physics import (
    check_env_id,
    env_factory,
    episode_limit,
    make_env,
    missing_extra,
    rubric_step_scores,
    scalar_info_keys,
    step_seconds,
    suite_rubric,
)
from rlhf_robotics.robotics.policy import (
    ALGORITHMS,
    CurveCallback,
    PhaseTimer,
    TimedReward,
    check_algorithm_fits,
    is_off_policy,
    make_agent,
    make_vec_env,
    normalize_for,
    obs_rms,
    progress_bar,
    resolve_device,
)
from rlhf_robotics.robotics.relabel import relabel_replay_buffer
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv
from rlhf_robotics.robotics.schedule import label_schedule, segment_length
from rlhf_robotics.robotics.segments import Segments, SegmentStore
from rlhf_robotics.robotics.summary import Summary, success_metrics, summary_table  # noqa: F401  (summary_table is re-exported)

log = logging.getLogger(__name__)

# Independent random streams, so changing one part (say the teacher) leaves the others' draws unchanged.
_STREAMS = ("segments", "selection", "teacher", "reward_model", "evaluation")


# ----------------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------------
class PreferenceLoop:
    """State of one run. Build it with :func:`run_experiment`; the methods are the loop's stages."""

    def __init__(self, config: ExperimentConfig, progress: bool = True) -> None:
        self.config = config
        self.progress = progress
        self.run_dir = Path(config.run_dir)
        self.paths = RunPaths(self.run_dir)
        self.device = resolve_device(config.device)
        self.timer = PhaseTimer()
        seeds = np.random.SeedSequence(config.seed).spawn(len(_STREAMS))
        self.rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds)}
        self.dt = step_seconds(config.env.id, config.env.kwargs)
        e = config.env
        self.segment_steps = segment_length(self.dt, e.segment_seconds, e.segment_steps, e.min_segment_steps, e.max_segment_steps)
        limit = episode_limit(e.id)
        if e.segment_steps is None and limit is not None:  # a segment must fit in one episode (Reacher: 50 steps)
            self.segment_steps = min(self.segment_steps, limit)
        self.make_env = env_factory(e.id, e.kwargs, e.christiano)
        self.schedule = label_schedule(config.labels.total, config.labels.initial_fraction, config.labels.rounds,
                                       config.total_steps, config.labels.schedule_timescale)
        teacher_cfg = preset(config.teacher.preset, **config.teacher.overrides)
        self.teacher = Teacher(teacher_cfg, self.rng["teacher"], config.teacher.preset)
        self.rubric = suite_rubric(config.env.id)
        if config.teacher.judge_on == "rubric":
            if self.rubric is None:
                raise ValueError(
                    f"teacher.judge_on=rubric needs a task with a physics rubric; {config.env.id} has none "
                    "(the suite's rlhf_robotics/... tasks have one)"
                )
            self.rubric = self.rubric.weighted(config.teacher.rubric_weights)
        self.store = PreferenceStore(self.paths.store)
        self.segments = SegmentStore(self.paths.segments)
        self.features: dict[str, np.ndarray] = {}
        self.judgment_rows: list[StoredJudgment] = []
        self.reliability: ReliabilityFit | None = None
        """The last fitted annotator model (labels.reliability=dawid_skene), logged with each round."""
        self.cursor = 0
        self.curve: list[dict[str, float]] = []
        self.initial_return: ReturnStats | None = None
        self.initial_success: SuccessRate | None = None
        self.round = 0

        self.base_venv = make_vec_env(config, config.seed)
        probe = self.base_venv.envs[0]  # type: ignore[attr-defined]
        obs_dim = int(np.prod(self.base_venv.observation_space.shape))  # type: ignore[arg-type]
        act_dim = int(np.prod(self.base_venv.action_space.shape))  # type: ignore[arg-type]
        nq, nv = probe.unwrapped.model.nq, probe.unwrapped.model.nv
        probe.reset(seed=config.seed)
        probe_step = probe.step(probe.action_space.sample())[-1]
        capacity = max(config.labels.buffer_steps // e.n_envs, self.segment_steps * 2)
        self.buffer = TransitionBuffer(e.n_envs, capacity, obs_dim, act_dim, nq, nv, scalar_info_keys(probe_step))
        self.reward_env = LearnedRewardVecEnv(self.base_venv, None, self.buffer)
        self.venv = normalize_for(config, self.reward_env)
        self.pretrain_steps = config.off_policy.learning_starts + config.pretrain.steps if config.pretrain.steps else 0
        """Env steps before the first labels: PEBBLE's seed steps and state-entropy pre-training (0: none)."""
        self.policy: BaseAlgorithm = make_agent(config, self.venv, config.seed, self.device, pretrain=self.pretrain_steps > 0)
        self.policy.set_logger(configure_logger(str(self.run_dir / "tb"), ["tensorboard"]))
        self.ensemble = build_step_ensemble(obs_dim + act_dim, config.reward_model.ensemble_size,
                                            config.reward_model.mlp, seed=config.seed)
        self.metrics_path = self.paths.metrics
        # learning-curve points: one per PPO rollout; one per 1,000 steps of an off-policy agent (whose "rollout"
        # is a single step)
        self._curve_interval = 1000 if is_off_policy(config) else 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reward-refit")
        if self.rubric is not None:  # the labelling app asks people about each criterion
            write_rubric(self.run_dir, [(c.name, c.question) for c in self.rubric.criteria])
        write_instruction(self.run_dir, config.env.instruction)  # the labelling app shows it above every pair
        self.clip_pool: Any = None
        self.finished = False
        """Set when run() completes; a run cut short terminates its clip renders on close()."""
        if config.labels.source == "human":
            from rlhf_robotics.robotics.render_pool import ClipPool, clip_config

            self.clip_pool = ClipPool(self.paths.clips, clip_config(config.env, config.labels.min_clip_seconds),
                                      workers=config.labels.render_workers)

    # -- stages --------------------------------------------------------------------------------------------
    def _status(self, state: str, message: str) -> None:
        write_status(self.run_dir, state, message, self.round)

    def log_metrics(self, row: dict[str, Any]) -> None:
        row = {"round": self.round, "step": int(self.policy.num_timesteps), **row}
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        for key, value in row.items():
            if isinstance(value, (int, float)) and key not in ("round", "step"):
                self.policy.logger.record(key, value)
        self.policy.logger.dump(int(self.policy.num_timesteps))

    def collect_initial(self, steps: int | None = None) -> None:
        """Fill the buffer with the current (at the start: untrained) policy, without learning."""
        if steps is None:
            steps = max(self.config.labels.initial_steps, self.segment_steps * 2 * self.config.env.n_envs)
        obs = self.venv.reset()
        for _ in range(math.ceil(steps / self.config.env.n_envs)):
            action, _ = self.policy.predict(obs, deterministic=False)  # type: ignore[arg-type]
            obs, _, _, _ = self.venv.step(action)

    def ask(self, n: int, selector: str) -> int:
        """Choose ``n`` pairs from the buffer, store segments and queries, and (with a teacher) answer them."""
        if n <= 0:
            return 0
        with self.timer("selection"):
            c = candidate_count(n, self.config.selection.oversampling, selector)
            batch, prefix = self._batch_names()
            segs = self.buffer.sample_segments(2 * c, self.segment_steps, self.rng["segments"], prefix,
                                               self.config.env.id, self.dt)
            feats = segs.features()
            if selector == "uniform":
                chosen = np.arange(n)
                scores = np.zeros(c)
            else:
                with torch.no_grad():
                    item = self.ensemble.item_scores(torch.as_tensor(feats)).numpy()  # (E, 2c); installed ensembles live on the CPU
                chosen, scores = select(item[:, 0::2] - item[:, 1::2], n, selector, self.rng["selection"])
            keep = np.stack([2 * chosen, 2 * chosen + 1], axis=1).ravel()
            segs = segs.take(keep)
            self.segments.save(batch, segs)
            for sid, f in zip(segs.ids, feats[keep]):
                self.features[sid] = f
            returns = segs.returns()
            queries = [
                Query(segs.ids[2 * k], segs.ids[2 * k + 1], selector=selector, score=float(scores[chosen[k]]),
                      priority=float(scores[chosen[k]]),
                      meta={"round": self.round, "true_return_first": float(returns[2 * k]),
                            "true_return_second": float(returns[2 * k + 1]), "env_id": self.config.env.id})
                for k in range(len(chosen))
            ]
            query_ids = self.store.add_queries(queries)
        if self.clip_pool is not None:  # people answer in the labelling app, once the clips exist
            from rlhf_robotics.robotics.clip_context import clip_context

            lab = self.config.labels  # clips at least min_clip_seconds long: context around the segment, or slowed
            self.clip_pool.request(segs, context=clip_context(self.buffer, segs, lab.min_clip_seconds,
                                                              lab.clip_context_seconds))
            self._status("rendering", f"rendering {len(segs)} clips for round {self.round}")
        else:
            self._status("labelling", f"round {self.round}: the teacher answers {len(query_ids)} queries")
            with self.timer("labelling"):
                self._judge(segs, query_ids)
        return len(query_ids)

    def _batch_names(self) -> tuple[str, str]:
        """Segment batch file and id prefix for the next ask, unique even when a killed round is redone."""
        n, k = self.store.count_queries(), 0
        while True:
            suffix = f"-{k}" if k else ""
            batch, prefix = f"round_{self.round:03d}_{n:06d}{suffix}", f"r{self.round:03d}-q{n:06d}{suffix}"
            if not (self.segments.root / f"{batch}.npz").exists():
                return batch, prefix
            k += 1

    def _judge(self, segs: Segments, query_ids: list[int]) -> None:
        """The teacher's answers to the queries over consecutive segment pairs of ``segs``."""
        scores = segs.reward if self.config.teacher.judge_on == "reward" else rubric_step_scores(self.rubric, segs.terms)
        labels = self.teacher.judge(scores[0::2], scores[1::2])
        self.store.add_judgments([Judgment(q, lab, self.teacher.annotator) for q, lab in zip(query_ids, labels)])

    def answer_pending(self) -> int:
        """With a teacher, answer the stored queries that have no judgment yet (a run killed between storing a
        round's queries and its answers); returns how many. People's open queries stay with the app."""
        if self.clip_pool is not None:
            return 0
        answered = {row.judgment.query_id for row in self.store.judgments()}
        pending = [sq for sq in self.store.queries() if sq.id not in answered]
        if pending:
            segs = self.segments.get([sid for sq in pending for sid in (sq.query.first, sq.query.second)])
            self._judge(segs, [sq.id for sq in pending])
        return len(pending)

    def refill_buffer(self) -> None:
        """Refill the transition buffer after a resume (it is not checkpointed) with the restored policy's
        behaviour, without learning and without moving the observation statistics, so that query selection, the
        reward's normalisation and the final evaluation have recent segments to cut. A resumed run therefore
        draws its next segments from these steps, not from the killed process's last ones."""
        steps = max(self.config.labels.buffer_steps, self.segment_steps * 2 * self.config.env.n_envs)
        training = getattr(self.venv, "training", None)
        if training is not None:
            self.venv.training = False  # type: ignore[attr-defined]
        self.collect_initial(steps)
        if training is not None:
            self.venv.training = training  # type: ignore[attr-defined]

    def wait_for_people(self) -> None:
        """Block until ``labels.human_min_initial`` answers with a training target exist (the first fit needs
        some), showing progress in ``status.json``; later rounds never wait."""
        need, deadline = self.config.labels.human_min_initial, time.monotonic() + self.config.labels.human_timeout_s
        while True:
            have = len(aggregate_targets(self.store.judgments()))
            if have >= need:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {have} of the {need} answers needed for the first reward fit arrived within "
                    f"{self.config.labels.human_timeout_s:.0f} s; resume the run (resume={self.run_dir}) to keep waiting, "
                    "or lower labels.human_min_initial"
                )
            self._status("labelling", f"waiting for the first answers: {have} of {need}")
            time.sleep(1.0)

    def dataset(self) -> PairDataset:
        """All judged comparisons so far, read from the store by cursor and aggregated."""
        new = self.store.judgments(after=self.cursor)
        if new:
            self.judgment_rows += new
            self.cursor = new[-1].id
        queries = {sq.id: sq.query for sq in self.store.queries()}
        # labels.reliability=none: aggregate_targets, no weights (the unweighted loss, as before issue 16)
        targets, weights, self.reliability = training_targets(self.judgment_rows, queries, self.config.labels.reliability)
        self._load_features(sid for qid in targets for sid in (queries[qid].first, queries[qid].second))
        ids: dict[str, int] = {}
        first, second, target = [], [], []
        for qid, t in targets.items():
            q = queries[qid]
            first.append(ids.setdefault(q.first, len(ids)))
            second.append(ids.setdefault(q.second, len(ids)))
            target.append(t)
        items = np.stack([self.features[sid] for sid in ids]) if ids else np.zeros((0, self.segment_steps, 1), np.float32)
        weight = None if weights is None else torch.as_tensor([weights[qid] for qid in targets], dtype=torch.float32)
        return PairDataset(torch.as_tensor(items), torch.as_tensor(first, dtype=torch.long),
                           torch.as_tensor(second, dtype=torch.long), torch.as_tensor(target, dtype=torch.float32),
                           weight=weight)

    def _load_features(self, segment_ids: Iterable[str]) -> None:
        """Make sure ``self.features`` holds these segments' step features, reading the missing ones from disk."""
        missing = list(dict.fromkeys(sid for sid in segment_ids if sid not in self.features))
        if missing:
            got = self.segments.get(missing)
            self.features.update(zip(got.ids, got.features()))

    def gold_accuracy(self) -> float | None:
        """Share of the store's gold questions (people's runs: pairs with a known answer) whose answer the
        installed reward model gives; None without gold questions."""
        gold = [sq.query for sq in self.store.queries() if sq.query.gold_label in ("first", "second")]
        if not gold:
            return None
        self._load_features(sid for q in gold for sid in (q.first, q.second))
        with torch.no_grad():
            first = self.ensemble.item_scores(torch.as_tensor(np.stack([self.features[q.first] for q in gold]))).mean(0)
            second = self.ensemble.item_scores(torch.as_tensor(np.stack([self.features[q.second] for q in gold]))).mean(0)
        said_first = (first > second).numpy()
        return float(np.mean([s == (q.gold_label == "first") for s, q in zip(said_first, gold)]))

    def _trainer_config(self) -> RewardTrainerConfig:
        rm = self.config.reward_model
        if self.round == 0:
            return rm.trainer
        return dataclasses.replace(rm.trainer, epochs=min(rm.trainer.epochs, rm.refit_epochs))

    def _install(self, ensemble: RewardEnsemble) -> None:
        """Normalise ``ensemble`` on recent transitions and make it the reward the policy sees."""
        steps, _ = self.buffer.sample_steps(4096, self.rng["reward_model"])
        sample = torch.as_tensor(steps, dtype=torch.float32)
        ensemble.cpu()
        ensemble.fit_normalisation(sample)
        self.ensemble = ensemble
        reward = StackedStepReward(ensemble)
        self.reward_env.set_reward_fn(TimedReward(reward, self.timer))
        self.relabel(reward)

    def relabel(self, reward: StackedStepReward) -> None:
        """Off-policy agents: give every transition in the replay buffer the newly installed reward (PEBBLE)."""
        buffer = getattr(self.policy, "replay_buffer", None)
        if buffer is None or not self.config.off_policy.relabel:
            return
        with self.timer("relabel"):
            relabel_replay_buffer(buffer, reward, self.venv.action_space)

    def fit_reward(self) -> RewardTrainerMetrics | None:
        """Refit the ensemble on every judgment so far and install it in the wrapper."""
        with self.timer("reward_training"):
            data = self.dataset()
            if len(data) == 0:
                return None
            self._standardise_inputs(self.ensemble, data)
            metrics = train_ensemble(self.ensemble, data, self._trainer_config(), self.rng["reward_model"])
            self._install(self.ensemble)
        return metrics

    def _standardise_inputs(self, ensemble: RewardEnsemble, data: PairDataset) -> None:
        """Set the members' input statistics before a fit: from the initial policy's steps at round 0, then
        (``input_statistics=per_round``) from every labelled segment's steps, keeping the function unchanged."""
        if self.round == 0:
            steps, _ = self.buffer.sample_steps(4096, self.rng["reward_model"])
            for m in ensemble.members:
                m.set_input_statistics(torch.as_tensor(steps, dtype=torch.float32))  # type: ignore[operator]
        elif self.config.reward_model.input_statistics == "per_round" and len(data):
            steps_t = data.items.reshape(-1, data.items.shape[-1]).float()
            for m in ensemble.members:
                m.restandardise(steps_t)  # type: ignore[operator]

    def start_refit(self) -> Future[tuple[RewardEnsemble, RewardTrainerMetrics | None]]:
        """Refit a copy of the ensemble on every judgment so far in a background thread."""
        data = self.dataset()
        ensemble = copy.deepcopy(self.ensemble)
        self._standardise_inputs(ensemble, data)
        config, rng = self._trainer_config(), self.rng["reward_model"]

        def work() -> tuple[RewardEnsemble, RewardTrainerMetrics | None]:
            start = time.perf_counter()
            metrics = train_ensemble(ensemble, data, config, rng) if len(data) else None
            self.timer.seconds["reward_training_background"] += time.perf_counter() - start
            return ensemble, metrics

        return self._executor.submit(work)

    def hand_over(self) -> None:
        """PEBBLE's handover after pre-training: reset the critic (its values estimate the exploration reward) and
        take ``pretrain.reset_updates`` gradient steps on the relabelled buffer."""
        with self.timer("policy_learn"):
            reset_critic(self.policy)
            if self.config.pretrain.reset_updates:
                self.policy.train(gradient_steps=self.config.pretrain.reset_updates,  # type: ignore[attr-defined]
                                  batch_size=self.config.off_policy.batch_size)

    def learn(self, steps: int, desc: str | None = None) -> None:
        desc = desc or f"round {self.round} {self.config.algo.upper()}"
        with self.timer("policy_learn"), progress_bar(steps, desc, self.progress) as bar:
            self.policy.learn(steps, reset_num_timesteps=False, callback=CurveCallback(self.curve, bar, self._curve_interval),
                              progress_bar=False)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        with self.timer("checkpoint"):
            d = self.run_dir / "checkpoints" / f"round_{self.round:03d}"
            d.mkdir(parents=True, exist_ok=True)
            self.policy.save(d / "policy.zip")
            torch.save(self.ensemble.state_dict(), d / "reward_model.pt")
            in_dim = int(self.buffer.obs.shape[-1] + self.buffer.act.shape[-1])
            meta = EnsembleMetadata(in_dim, self.ensemble.size, self.config.reward_model.mlp)
            (d / "reward_model.json").write_text(json.dumps(asdict(meta)))
            rms = obs_rms(self.venv)
            if isinstance(self.venv, VecNormalize):
                np.savez(d / "vecnormalize.npz", obs_mean=rms.mean if rms else 0, obs_var=rms.var if rms else 1,
                         obs_count=rms.count if rms else 0, ret_mean=self.venv.ret_rms.mean, ret_var=self.venv.ret_rms.var,
                         ret_count=self.venv.ret_rms.count)
                self.venv.save(str(d / "vecnormalize.pkl"))  # SB3's format: VecNormalize.load(path, venv)
            state = {
                "round": self.round,
                "num_timesteps": int(self.policy.num_timesteps),
                "rng": {k: g.bit_generator.state for k, g in self.rng.items()},
                "curve": self.curve,
                "timer": dict(self.timer.seconds),
                "initial_return": asdict(self.initial_return) if self.initial_return else None,
                "initial_success": asdict(self.initial_success) if self.initial_success else None,
            }
            (d / "state.json").write_text(json.dumps(state, default=int))
            (self.run_dir / "checkpoints" / "latest.json").write_text(json.dumps({"round": self.round, "dir": d.name}))

    def load_checkpoint(self) -> bool:
        """Restore the last completed round; False if there is none."""
        latest = self.run_dir / "checkpoints" / "latest.json"
        if not latest.exists():
            return False
        d = self.run_dir / "checkpoints" / json.loads(latest.read_text())["dir"]
        state = json.loads((d / "state.json").read_text())
        # the replay buffer of an off-policy agent is not checkpointed (it can hold a million transitions); a resumed
        # SAC/TD3 run refills it from the restored policy's steps (refill_buffer) and keeps learning
        self.policy = ALGORITHMS[self.config.algo].load(d / "policy.zip", env=self.venv, device=self.device)
        if hasattr(getattr(self.policy, "replay_buffer", None), "intrinsic"):
            self.policy.replay_buffer.intrinsic = False  # type: ignore[attr-defined]  # pre-training ended before any checkpoint
        self.policy.set_logger(configure_logger(str(self.run_dir / "tb"), ["tensorboard"]))
        self.policy.num_timesteps = state["num_timesteps"]
        self.ensemble.load_state_dict(torch.load(d / "reward_model.pt", weights_only=True))
        if isinstance(self.venv, VecNormalize) and (d / "vecnormalize.npz").exists():
            z = np.load(d / "vecnormalize.npz")
            rms = obs_rms(self.venv)
            if rms is not None:
                rms.mean, rms.var, rms.count = z["obs_mean"], z["obs_var"], float(z["obs_count"])
            self.venv.ret_rms.mean, self.venv.ret_rms.var, self.venv.ret_rms.count = z["ret_mean"], z["ret_var"], float(z["ret_count"])
        for k, s in state["rng"].items():
            self.rng[k].bit_generator.state = s
        self.curve = state["curve"]
        self.initial_return = ReturnStats(**state["initial_return"]) if state.get("initial_return") else None
        self.initial_success = SuccessRate(**state["initial_success"]) if state.get("initial_success") else None
        self.timer.seconds.update(state["timer"])
        self.round = state["round"]
        self.reward_env.set_reward_fn(TimedReward(StackedStepReward(self.ensemble), self.timer))
        self.dataset()  # catch up with every judgment in the store, including any after the checkpoint
        return True

    # -- the whole run -------------------------------------------------------------------------------------
    def labels_due(self, through_round: int) -> int:
        return int(sum(self.schedule[: through_round + 1]))

    def run(self, resume: bool = False) -> Summary:
        c = self.config
        resumed = resume and self.load_checkpoint()
        if resume:
            self.answer_pending()
        if resumed:
            self._status("waiting_for_policy", f"resumed after round {self.round}: refilling the transition buffer")
            self.refill_buffer()
        budget = c.total_steps - self.pretrain_steps  # pre-training counts toward the run's env steps
        steps_per_round = [budget // c.labels.rounds + (1 if r < budget % c.labels.rounds else 0)
                           for r in range(c.labels.rounds)]
        if not resumed:
            with self.timer("evaluation"):
                initial = evaluate_policy(self.policy, self.make_env, c.eval_episodes, c.seed + 10_000, obs_rms(self.venv))
                self.initial_return, self.initial_success = initial.returns, initial.success
            if self.pretrain_steps:
                self._status("waiting_for_policy", "unsupervised pre-training on state entropy (PEBBLE)")
                self.learn(self.pretrain_steps, "pre-training (state entropy)")
                self.policy.replay_buffer.intrinsic = False  # type: ignore[attr-defined]  # from now on: learned rewards
            else:
                self._status("waiting_for_policy", "collecting segments from the initial policy")
                with self.timer("policy_learn"):
                    self.collect_initial()
            self.round = 0
            # nothing learned yet: every pair is equally informative
            asked = self.ask(max(self.labels_due(0) - self.store.count_queries(), 0), "uniform")
            if self.clip_pool is not None:
                self.wait_for_people()
            else:
                self._status("waiting_for_policy", "round 0: fitting the reward model")
            metrics = self.fit_reward()  # installs the reward and (off-policy) relabels the replay buffer
            if self.pretrain_steps and c.pretrain.reset_critic:
                self.hand_over()
            self._end_round(asked, metrics)
        for r in range(self.round + 1, c.labels.rounds + 1):
            self.round = r
            if c.reward_model.async_training:
                # Ask about the latest policy's segments, refit in the background while PPO runs on the reward
                # fitted so far, then install the refit: the data flow of the synchronous loop, one round late.
                asked = self.ask(max(self.labels_due(r) - self.store.count_queries(), 0), c.selection.name)
                job = self.start_refit()
                self._status("waiting_for_policy", f"round {r}: training the policy")
                self.learn(steps_per_round[r - 1])
                with self.timer("reward_training"):  # only the wait for the refit counts against the loop
                    ensemble, metrics = job.result()
                    self._install(ensemble)
                self._end_round(asked, metrics)
            else:
                self._status("waiting_for_policy", f"round {r}: training the policy")
                self.learn(steps_per_round[r - 1])
                self._round_labels(selector=c.selection.name)
        summary = self.finish()
        self._status("done", "finished")
        self.finished = True
        return summary

    def _round_labels(self, selector: str) -> None:
        asked = self.ask(max(self.labels_due(self.round) - self.store.count_queries(), 0), selector)
        self._status("waiting_for_policy", f"round {self.round}: fitting the reward model")
        self._end_round(asked, self.fit_reward())

    def _end_round(self, asked: int, metrics: RewardTrainerMetrics | None) -> None:
        row: dict[str, Any] = {"labels/asked": asked, "labels/total": self.store.count_queries()}
        if metrics is not None:
            row.update({f"reward_model/{k}": v for k, v in dataclasses.asdict(metrics).items() if not isinstance(v, list)})
        if self.curve:
            row.update({k: v for k, v in self.curve[-1].items() if k != "step"})
        gold = self.gold_accuracy()
        if gold is not None:
            row["reward_model/gold_accuracy"] = gold
        if self.reliability is not None:
            row.update({f"reliability/{a}": p for a, p in self.reliability.reliability.items()})
        self.log_metrics(row)
        log.info("%s", round_line(self.round, self.config.labels.rounds, row))
        self.save_checkpoint()

    # -- the final report: evaluation, baseline, video, each a resumable phase ------------------------------
    def _final_state(self) -> dict[str, Any]:
        path = self.run_dir / "checkpoints" / "final.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_final_state(self, state: dict[str, Any]) -> None:
        atomic_write(self.run_dir / "checkpoints" / "final.json", json.dumps(state, default=float))

    def finish(self) -> Summary:
        """Evaluate, train the baseline, plot and record the video, then write ``summary.json``.

        Each phase's result goes to ``checkpoints/final.json`` as it ends, so a run killed in any phase resumes
        at that phase (a phase cut short is redone from its start; each is deterministic per seed)."""
        c = self.config
        self.timer.seconds["loop_total"] = sum(v for k, v in self.timer.seconds.items()
                                               if k in ("policy_learn", "reward_training", "selection", "labelling", "checkpoint"))
        ev_seed = c.seed + 10_000
        state = self._final_state()
        self.timer.seconds.update(state.get("timer", {}))
        if "evaluation" not in state:
            self._status("waiting_for_policy", "training is over: final evaluation of the policy")
            with self.timer("evaluation"):
                ours_ev = evaluate_policy(self.policy, self.make_env, c.eval_episodes, ev_seed, obs_rms(self.venv))
                rand_ev = evaluate_policy(None, self.make_env, c.eval_episodes, ev_seed)
                acc, corr_step, corr_seg = self.reward_quality()
            state["evaluation"] = {"policy": asdict(ours_ev.returns), "random": asdict(rand_ev.returns), "accuracy": acc,
                                   "correlation_step": corr_step, "correlation_segment": corr_seg,
                                   "policy_success": asdict(ours_ev.success), "random_success": asdict(rand_ev.success)}
            state["timer"] = dict(self.timer.seconds)
            self._save_final_state(state)
        ev = state["evaluation"]
        ours, rand = ReturnStats(**ev["policy"]), ReturnStats(**ev["random"])
        ours_success, rand_success = (SuccessRate(**ev[k]) if k in ev else None for k in ("policy_success", "random_success"))
        acc, corr_step, corr_seg = ev["accuracy"], ev["correlation_step"], ev["correlation_segment"]
        baseline: ReturnStats | None = None
        baseline_success: SuccessRate | None = None
        baseline_curve: list[tuple[int, float]] = []
        if c.baseline:
            if "baseline" not in state:
                self._status("waiting_for_policy", "training is over: baseline PPO on the true reward")
                with self.timer("baseline"):
                    stats, curve = self.train_baseline(ev_seed)
                state["baseline"] = {"stats": asdict(stats.returns), "curve": curve, "success": asdict(stats.success)}
                state["timer"] = dict(self.timer.seconds)
                self._save_final_state(state)
            baseline = ReturnStats(**state["baseline"]["stats"])
            baseline_success = SuccessRate(**state["baseline"]["success"]) if "success" in state["baseline"] else None
            baseline_curve = [(int(step), float(ret)) for step, ret in state["baseline"]["curve"]]
        frac = fraction_of_baseline(ours.mean, baseline.mean) if baseline is not None else None
        norm = normalized_score(ours.mean, rand.mean, baseline.mean) if baseline is not None else None
        files = {"run_dir": str(self.run_dir), "metrics": str(self.metrics_path), "store": self.store.path}
        with self.timer("evaluation"):
            files["learning_curve"] = str(plot_learning_curves(
                {"PPO on the learned reward": [(int(p["step"]), p["policy/return_true"]) for p in self.curve],
                 "PPO on the true reward": baseline_curve},
                self.run_dir / "learning_curve.png",
                f"{c.env.id}: {self.store.count_queries()} labels, {c.teacher.preset} teacher, seed {c.seed}",
                learned_curve=[(int(p["step"]), p["policy/return_learned"]) for p in self.curve if "policy/return_learned" in p],
            ))
        if c.video:
            if "video" not in state:
                self._status("waiting_for_policy", "training is over: recording the policy video")
                with self.timer("evaluation"):
                    state["video"] = self.record_policy_video(ev_seed)
                self._save_final_state(state)
            files.update(state["video"])
        counts: dict[str, int] = defaultdict(int)
        for row in self.judgment_rows:
            counts[row.judgment.label] += 1
        rm_rows = [json.loads(x) for x in self.metrics_path.read_text().splitlines()] if self.metrics_path.exists() else []
        val_acc = next((r["reward_model/val_accuracy"] for r in reversed(rm_rows) if "reward_model/val_accuracy" in r), math.nan)
        summary = Summary(
            env_id=c.env.id, total_steps=c.total_steps, seed=c.seed, labels_used=self.store.count_queries(),
            label_counts=dict(counts), policy_return_true=ours, initial_policy_return_true=self.initial_return,
            random_return_true=rand, baseline_return_true=baseline,
            fraction_of_true_reward_ppo=frac, normalized_score=norm, reward_model_accuracy_vs_oracle=acc,
            reward_model_val_accuracy=val_acc, reward_correlation_step=corr_step, reward_correlation_segment=corr_seg,
            wall_seconds=dict(self.timer.seconds), files=files, policy_success=ours_success,
            initial_policy_success=self.initial_success, random_success=rand_success, baseline_success=baseline_success,
        )
        self.log_metrics({**{k: v for k, v in {
            "policy/return_true_final": ours.mean, "random/return_true": rand.mean,
            "baseline/return_true": baseline.mean if baseline else None,
            "reward_model/accuracy_vs_oracle": acc}.items() if v is not None}, **success_metrics(summary)})
        # written last, atomically: its presence means the run is finished
        atomic_write(self.run_dir / "summary.json", json.dumps(summary.to_json(), indent=2, default=float))
        return summary

    def record_policy_video(self, seed: int) -> dict[str, str]:
        """The final policy's video as ``video.mp4`` in the run directory, and a copy under ``video_dir`` named
        uniquely after the run directory's path (so two sweeps' job ``0`` never overwrite each other)."""
        c = self.config
        path = record_video(self.policy, self.make_env, c.env.id, self.run_dir / "video.mp4", obs_rms(self.venv), seed)
        files = {"video": str(path)}
        if c.video_dir:
            parts = self.run_dir.resolve().parts
            tag = "_".join(p for p in parts[-3:] if p not in ("/", ""))
            digest = hashlib.sha1(str(self.run_dir.resolve()).encode()).hexdigest()[:6]
            copy = Path(c.video_dir) / f"{c.env.id.replace('/', '_')}_{tag}_{digest}_seed{c.seed}.mp4"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            files["video_copy"] = str(copy)
        return files

    def reward_quality(self) -> tuple[float, float, float]:
        """Accuracy against a perfect oracle on 500 fresh pairs, and step/segment reward correlations."""
        rng = self.rng["evaluation"]
        segs: Segments = self.buffer.sample_segments(1000, self.segment_steps, rng, "eval", self.config.env.id, self.dt)
        with torch.no_grad():
            pred = self.ensemble.item_scores(torch.as_tensor(segs.features())).mean(0).numpy()
        true = segs.returns()
        acc = pair_accuracy(pred[0::2], pred[1::2], true[0::2], true[1::2])
        feats, rew = self.buffer.sample_steps(5000, rng)
        step_pred = StackedStepReward(self.ensemble)(feats)
        return acc, pearson(step_pred, rew), pearson(pred, true)

    def train_baseline(self, ev_seed: int) -> tuple[PolicyEvaluation, list[tuple[int, float]]]:
        """The same algorithm with the same settings on the true reward for the same number of steps."""
        c = self.config
        venv = normalize_for(c, make_vec_env(c, c.seed))
        model = make_agent(c, venv, c.seed, self.device)
        model.set_logger(configure_logger(str(self.run_dir / "tb_baseline"), ["tensorboard"]))
        curve: list[dict[str, float]] = []
        with progress_bar(c.total_steps, f"baseline {c.algo.upper()} (true reward)", self.progress) as bar:
            model.learn(c.total_steps, callback=CurveCallback(curve, bar, self._curve_interval))
        stats = evaluate_policy(model, self.make_env, c.eval_episodes, ev_seed, obs_rms(venv))
        venv.close()
        return stats, [(int(p["step"]), p["policy/return_true"]) for p in curve]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self.clip_pool is not None:  # a run cut short (an error, SIGTERM, Ctrl-C) also ends the running renders
            self.clip_pool.close(wait=False, terminate=not self.finished)
        self.venv.close()
        self.store.close()


def round_line(round: int, rounds: int, row: dict[str, Any]) -> str:
    """One readable line per round for the log (the whole record is in ``metrics.jsonl``)."""
    parts = [f"round {round}/{rounds}", f"labels {row.get('labels/total', 0)} (+{row.get('labels/asked', 0)})"]
    if "reward_model/val_accuracy" in row:
        parts.append(f"reward model val acc {row['reward_model/val_accuracy']:.3f}")
    if "policy/return_true" in row:
        parts.append(f"true return {row['policy/return_true']:.1f}")
    if "policy/return_learned" in row:
        parts.append(f"learned return {row['policy/return_learned']:.1f}")
    return ", ".join(parts)


def finished_summary(run_dir: str | Path) -> Summary | None:
    """The summary of a finished run in ``run_dir`` (``summary.json`` is written last), else None."""
    path = Path(run_dir) / "summary.json"
    return Summary.from_json(json.loads(path.read_text())) if path.is_file() else None


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run or any preference data (a labelling app may create an empty store first)."""
    if (run_dir / "config.json").exists():
        return True
    store = RunPaths(run_dir).store
    if not store.exists():
        return False
    try:
        with PreferenceStore(store) as s:
            return s.count_queries() > 0 or s.count_judgments() > 0
    except (sqlite3.DatabaseError, ValueError):
        return True  # not a store this code can read: never touch it


class RunDirError(ValueError):
    """The run directory cannot be used as asked (it holds a run, or holds none to resume)."""


def validate_experiment(config: ExperimentConfig) -> None:
    """Checks that need the task itself (its id, its action space against ``algo``); a ``ValueError`` names the
    setting. Run before anything is created."""
    check_env_id(config.env.id)
    missing = missing_extra(config.env.id)
    if missing:  # a task from an extra that is not installed (the DMC and Meta-World tasks)
        raise ValueError(f"env.id={config.env.id}: {missing}")
    if is_off_policy(config):  # only then is the env made here (MuJoCo may write MUJOCO_LOG.TXT to the cwd)
        env = make_env(config.env.id, config.env.kwargs, config.env.christiano)
        try:
            check_algorithm_fits(config, env.action_space)
        finally:
            env.close()


def run_experiment(config: ExperimentConfig, resume: bool = False, progress: bool = True) -> Summary:
    """Run (or with ``resume=True`` continue) one experiment; returns its :class:`Summary`.

    A fresh run refuses a ``run_dir`` that already holds a run, so nothing stored is overwritten.
    """
    run_dir = Path(config.run_dir)
    if not resume and holds_run(run_dir):
        raise RunDirError(
            f"{run_dir} already holds a run; pass resume=True (CLI: resume={run_dir}) to continue it, "
            "or choose another run_dir"
        )
    if resume and not (run_dir / "config.json").exists():
        raise RunDirError(f"cannot resume {run_dir}: it holds no run (no config.json)")
    if resume and (done := finished_summary(run_dir)) is not None:
        log.info("%s already finished; nothing to resume (its summary: %s)", run_dir, run_dir / "summary.json")
        return done
    if not resume:
        validate_experiment(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))
    torch.set_num_threads(config.torch_threads)
    loop = PreferenceLoop(config, progress=progress)
    try:
        return loop.run(resume=resume)
    finally:
        loop.close()
