"""The online preference loop (Christiano et al. 2017; PEBBLE, Lee et al. 2021, with an off-policy agent):

    initial rollouts (or PEBBLE: seed steps + state-entropy pre-training) → label a share of the budget → fit
    repeat per round: the agent learns on the learned reward (records segments) → ask pairs → label → refit → checkpoint
    the final report: evaluation on the hidden true objective, the same algorithm on the true reward, summary

:func:`build_loop` wires the stages — :class:`~.agent.Agent` (any SB3 algorithm), :class:`~.collector.Collector`
(the env stack and its transitions), :class:`~.labeller.QueryAsker` and a labeller (a teacher, or people in the
app), :class:`~.reward_fit.RewardFitter`, :class:`~.checkpoint.Checkpointer` and :class:`~.final_report.FinalReport`
— and :class:`PreferenceLoop` runs them in that order. Judgments go through the SQLite preference store and the
fitter follows it by id cursor, so people's labels are consumed as they arrive; every round ends in a checkpoint
and ``resume=True`` picks up after the last one without losing a judgment.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from rlhf_robotics.preference.ensemble import RewardEnsemble, StackedStepReward
from rlhf_robotics.preference.rundir import RunPaths, write_instruction, write_rubric, write_status
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.teachers import Teacher, preset
from rlhf_robotics.preference.trainer import RewardTrainerMetrics
from rlhf_robotics.robotics.agent import Agent
from rlhf_robotics.robotics.checkpoint import Checkpointer
from rlhf_robotics.robotics.collector import Collector
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.evaluation import ReturnStats, SuccessRate
from rlhf_robotics.robotics.exploration import StateEntropyReward
from rlhf_robotics.robotics.final_report import FinalReport
from rlhf_robotics.robotics.labeller import Labeller, PeopleLabeller, QueryAsker, TeacherLabeller
from rlhf_robotics.robotics.physics import env_factory, episode_limit, step_seconds, suite_rubric
from rlhf_robotics.robotics.policy import (
    PhaseTimer,
    TimedReward,
    is_off_policy,
    resolve_device,
    validate_experiment,
)
from rlhf_robotics.robotics.reward_fit import PendingRefit, RewardFitter, RUNEReward
from rlhf_robotics.robotics.reward_wrapper import RewardFn
from rlhf_robotics.robotics.run_log import MetricsLog, round_line, round_row
from rlhf_robotics.robotics.saved_run import RunDirError, finished_summary, holds_run
from rlhf_robotics.robotics.schedule import label_schedule, segment_length
from rlhf_robotics.robotics.segments import SegmentFeatures, SegmentStore
from rlhf_robotics.robotics.summary import Summary

__all__ = ["PreferenceLoop", "RunDirError", "Stages", "build_loop", "finished_summary", "holds_run", "run_experiment",
           "validate_experiment"]

log = logging.getLogger(__name__)

# Independent random streams, so changing one part (say the teacher) leaves the others' draws unchanged.
_STREAMS = ("segments", "selection", "teacher", "reward_model", "evaluation")


@dataclasses.dataclass
class Stages:
    """The parts one run is made of (see :func:`build_loop`); tests put small fakes in their place."""

    agent: Agent
    collector: Collector
    asker: QueryAsker
    labeller: Labeller
    fitter: RewardFitter
    checkpointer: Checkpointer
    report: FinalReport
    metrics: MetricsLog
    store: PreferenceStore
    rng: dict[str, np.random.Generator]
    timer: PhaseTimer


class PreferenceLoop:
    """One run of the algorithm over its :class:`Stages`."""

    def __init__(self, config: ExperimentConfig, stages: Stages) -> None:
        self.config, self.s = config, stages
        self.run_dir = Path(config.run_dir)
        self.round = 0
        self.initial_return: ReturnStats | None = None
        self.initial_success: SuccessRate | None = None
        self.finished = False
        """Set when run() completes; a run cut short terminates its clip renders on close()."""
        lab = config.labels
        self.schedule = label_schedule(lab.total, lab.initial_fraction, lab.rounds, config.total_steps, lab.schedule_timescale)
        self.pretrain_steps = config.steps_before_labels
        """Env steps before the first labels: PEBBLE's seed steps (off-policy) and state-entropy pre-training (0: none)."""
        self.installed_reward: RewardFn | None = None
        """The learned reward last installed in the env stack (timed as ``reward_inference``)."""

    def run(self, resume: bool = False) -> Summary:
        c, s = self.config, self.s
        resumed = resume and self.load_checkpoint()
        if resume:
            s.labeller.answer_pending()
        if resumed:  # the transition buffer is not checkpointed: refill it from the restored policy, learning nothing
            self.status("waiting_for_policy", f"resumed after round {self.round}: refilling the transition buffer")
            with s.collector.frozen_statistics():
                s.agent.collect(max(c.labels.buffer_steps, s.collector.segment_steps * 2 * c.env.n_envs))
        budget = c.total_steps - self.pretrain_steps  # pre-training counts toward the run's env steps
        if c.reward_model.async_training and c.reward_model.refit_worker == "process":
            s.fitter.warm_worker()  # build_loop started it already; stages built by hand start it here
        steps_per_round = [budget // c.labels.rounds + (1 if r < budget % c.labels.rounds else 0) for r in range(c.labels.rounds)]
        if not resumed:
            initial = s.report.initial_evaluation(s.agent, s.collector)
            self.initial_return, self.initial_success = initial.returns, initial.success
            if self.pretrain_steps:
                self.status("waiting_for_policy", "unsupervised pre-training on state entropy (PEBBLE)")
                if not is_off_policy(c):  # PPO learns from its rollouts' rewards: the wrapper gives the entropy one
                    buffer = s.collector.buffer
                    s.collector.install(TimedReward(StateEntropyReward(
                        lambda: buffer.obs[: len(buffer) // buffer.n_envs], s.collector.obs_dim, c.pretrain.k,
                        c.pretrain.chunk_size), s.timer))
                s.agent.learn(self.pretrain_steps, "pre-training (state entropy)")
                s.agent.end_pretraining()  # from now on: learned rewards
            else:
                self.status("waiting_for_policy", "collecting segments from the initial policy")
                with s.timer("policy_learn"):
                    s.agent.collect(max(c.labels.initial_steps, s.collector.segment_steps * 2 * c.env.n_envs))
            self.round = 0
            asked = self.ask("uniform")  # nothing learned yet: every pair is equally informative
            s.labeller.wait_for_first(0)
            metrics = self.refit()  # installs the reward and (off-policy) relabels the replay buffer
            if self.pretrain_steps and c.pretrain.reset_critic:
                s.agent.hand_over()
            self.end_round(asked, metrics)
        for r in range(self.round + 1, c.labels.rounds + 1):
            self.round = r
            if c.reward_model.async_training:
                # Ask about the latest policy's segments, refit in the background while the agent learns on the
                # reward fitted so far, then install the refit: the data flow of the synchronous loop, one round late
                # (or, with async_install_steps, only that many steps late).
                asked = self.ask(c.selection.name)
                with s.timer("reward_training"):  # reading the labels and handing them over; the fit runs beside
                    job = s.fitter.start(r)
                self.status("waiting_for_policy", f"round {r}: training the policy")
                installed: list[RewardTrainerMetrics | None] = []
                after = c.reward_model.async_install_steps
                hooks = ({"after_rollout": self.install_after_rollout(job, after, installed)} if c.reward_model.async_relabel
                         else {"before_rollout": self.install_during_round(job, after, installed)})
                s.agent.learn(steps_per_round[r - 1], self.round_desc(), **hooks)
                if installed:
                    metrics = installed[0]
                else:
                    with s.timer("reward_training"):
                        metrics = self.install(*job.result())
            else:
                self.status("waiting_for_policy", f"round {r}: training the policy")
                s.agent.learn(steps_per_round[r - 1], self.round_desc())
                asked = self.ask(c.selection.name)
                self.status("waiting_for_policy", f"round {r}: fitting the reward model")
                metrics = self.refit()
            self.end_round(asked, metrics)
        summary = s.report.write(s.agent, s.collector, s.fitter, s.rng["evaluation"],
                                 (self.initial_return, self.initial_success), s.store.count_queries(), self.round, self.status)
        self.status("done", "finished")
        self.finished = True
        return summary

    def install_during_round(self, job: PendingRefit, after: int | None,
                             installed: list[RewardTrainerMetrics | None]) -> Callable[[int], None] | None:
        """The agent's before-rollout hook that installs the background refit ``job`` at the first rollout at least
        ``after`` env steps into the round (waiting for it there), appending its metrics to ``installed``; None
        (install at the round's end) without ``after``."""
        if after is None:
            return None

        def hook(steps: int) -> None:
            if not installed and steps >= after:
                self.take_over(job, installed)

        return hook

    def install_after_rollout(self, job: PendingRefit, after: int | None,
                              installed: list[RewardTrainerMetrics | None]) -> Callable[[int], RewardFn | None]:
        """``reward_model.async_relabel``: the agent's after-rollout hook that installs the background refit ``job`` at
        the end of the first rollout that ends at least ``after`` env steps into the round (waiting for it there) and
        returns the new reward, with which the agent relabels that rollout before learning from it."""
        first = after or 0

        def hook(steps: int) -> RewardFn | None:
            if installed or steps < first:
                return None
            return self.installed_reward if self.take_over(job, installed) else None

        return hook

    def take_over(self, job: PendingRefit, installed: list[RewardTrainerMetrics | None]) -> bool:
        """Inside the agent's learning: wait for the background refit ``job``, install it and note its metrics in
        ``installed``; whether it brought a new reward (False: no judgments to fit yet)."""
        with self.s.timer.within("policy_learn", "reward_training"):  # the wait, as at a round's end
            ensemble, metrics = job.result()
            installed.append(self.install(ensemble, metrics))
        return ensemble is not None

    def round_desc(self) -> str:
        return f"round {self.round} {self.config.algo.upper()}"

    def status(self, state: str, message: str) -> None:
        write_status(self.run_dir, state, message, self.round)

    def ask(self, selector: str) -> int:
        """Ask the labels due by this round that are not asked yet; returns how many were asked."""
        s = self.s
        n = max(int(sum(self.schedule[: self.round + 1])) - s.store.count_queries(), 0)
        if n <= 0:
            return 0
        with s.timer("selection"):
            segs, query_ids = s.asker.ask(n, selector, self.round, s.collector, s.fitter.ensemble)
        s.labeller.deliver(segs, query_ids, self.round)
        return len(query_ids)

    def refit(self) -> RewardTrainerMetrics | None:
        with self.s.timer("reward_training"):
            return self.install(*self.s.fitter.fit(self.round))

    def install(self, ensemble: RewardEnsemble | None, metrics: RewardTrainerMetrics | None) -> RewardTrainerMetrics | None:
        """Make a refitted ensemble the reward of every later step and (off-policy) of the whole replay buffer."""
        if ensemble is not None:
            reward = self.reward(self.s.fitter.install(ensemble))
            self.installed_reward = TimedReward(reward, self.s.timer)
            self.s.collector.install(self.installed_reward)
            self.s.agent.relabel(reward)
        return metrics

    def reward(self, stacked: StackedStepReward) -> RewardFn:
        """The reward the agent sees: the ensemble's, plus RUNE's β_t · the members' disagreement when enabled."""
        rune = self.config.reward_model.techniques.rune
        return RUNEReward(stacked, rune, lambda: self.s.agent.num_timesteps) if rune.enabled else stacked

    def end_round(self, asked: int, metrics: RewardTrainerMetrics | None) -> None:
        s = self.s
        row = round_row(asked, s.store.count_queries(), metrics, s.agent.curve, s.fitter)
        s.metrics.write(self.round, s.agent, row)
        log.info("%s", round_line(self.round, self.config.labels.rounds, row))
        with s.timer("checkpoint"):
            s.checkpointer.save_round(self.round, s, self.config.reward_model.mlp, self.initial_return, self.initial_success)

    def load_checkpoint(self) -> bool:
        """Restore the last completed round (and catch up with every judgment in the store, including any newer
        than the checkpoint); False if there is none."""
        restored = self.s.checkpointer.load_round(self.s)
        if restored is None:
            return False
        self.round, self.initial_return, self.initial_success = restored
        self.s.collector.install(TimedReward(self.reward(StackedStepReward(self.s.fitter.ensemble)), self.s.timer))
        self.s.fitter.dataset()
        return True

    def close(self) -> None:
        self.s.fitter.close()
        self.s.labeller.close(self.finished)
        self.s.collector.close()
        self.s.store.close()


def build_loop(config: ExperimentConfig, progress: bool = True) -> PreferenceLoop:
    """The stages of ``config``'s run, wired (the run directory must exist)."""
    e, run_dir = config.env, Path(config.run_dir)
    paths, timer, device = RunPaths(run_dir), PhaseTimer(), resolve_device(config.device)
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, np.random.SeedSequence(config.seed).spawn(len(_STREAMS)))}
    dt = step_seconds(e.id, e.kwargs)
    segment_steps = segment_length(dt, e.segment_seconds, e.segment_steps, e.min_segment_steps, e.max_segment_steps)
    if e.segment_steps is None and (limit := episode_limit(e.id)) is not None:  # a segment fits in one episode (Reacher: 50)
        segment_steps = min(segment_steps, limit)
    teacher = Teacher(preset(config.teacher.preset, **config.teacher.overrides), rng["teacher"], config.teacher.preset)
    rubric = suite_rubric(e.id)
    if config.teacher.judge_on == "rubric":
        if rubric is None:
            raise ValueError(f"teacher.judge_on=rubric needs a task with a physics rubric; {e.id} has none "
                             "(the suite's rlhf_robotics/... tasks have one)")
        rubric = rubric.weighted(config.teacher.rubric_weights)
    store, features = PreferenceStore(paths.store), SegmentFeatures(SegmentStore(paths.segments))
    collector = Collector(config, segment_steps, dt)
    fitter = RewardFitter(config, store, features, collector.buffer, rng["reward_model"], timer,
                          collector.obs_dim + collector.act_dim, segment_steps)
    if config.reward_model.async_training and config.reward_model.refit_worker == "process":
        fitter.warm_worker()  # starts its imports now, beside the agent's construction and the initial rollouts
    try:
        pretrain = bool(config.pretrain.steps)
        agent = Agent(config, collector.venv, device, timer, run_dir / "tb", pretrain=pretrain, progress=progress)
        if rubric is not None:  # the labelling app asks people about each criterion
            write_rubric(run_dir, [(c.name, c.question) for c in rubric.criteria])
        write_instruction(run_dir, e.instruction)  # the labelling app shows it above every pair
        labeller: Labeller = (PeopleLabeller(paths, config, store, collector.buffer) if config.labels.source == "human" else
                              TeacherLabeller(teacher, config.teacher.judge_on, rubric, store, features, str(run_dir), timer))
        checkpointer, metrics = Checkpointer(run_dir), MetricsLog(paths.metrics)
        report = FinalReport(config, env_factory(e.id, e.kwargs, e.christiano), checkpointer, metrics, timer, device, progress)
        return PreferenceLoop(config, Stages(agent, collector, QueryAsker(store, features, config.selection.oversampling, e.id, rng,
                                                                         config.selection.recent_steps,
                                                                         config.selection.same_episode,
                                                                         config.selection.cover_episode_edges),
                                             labeller, fitter, checkpointer, report, metrics, store, rng, timer))
    except BaseException:
        fitter.close()  # the warm worker process, if any
        raise


def run_experiment(config: ExperimentConfig, resume: bool = False, progress: bool = True) -> Summary:
    """Run (or with ``resume=True`` continue) one experiment; returns its :class:`Summary`.

    A fresh run refuses a ``run_dir`` that already holds a run, so nothing stored is overwritten."""
    run_dir = Path(config.run_dir)
    if not resume and holds_run(run_dir):
        raise RunDirError(f"{run_dir} already holds a run; pass resume=True (CLI: resume={run_dir}) to continue it, "
                          "or choose another run_dir")
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
    loop = build_loop(config, progress=progress)
    try:
        return loop.run(resume=resume)
    finally:
        loop.close()
