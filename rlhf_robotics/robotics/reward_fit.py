"""The reward-fitting stage: the ensemble, the judgments it learns from, and one refit path.

Judgments are read from the preference store by id cursor (people's labels arrive while the policy trains),
aggregated (ties and can't-tell kept as soft targets; ``labels.reliability`` may weight annotators) into a
:class:`PairDataset` over the stored segments' features. A :class:`Refit` trains a copy of the ensemble; the
synchronous loop runs it at once, the background loop (``reward_model.async_training``) in a worker thread while
the policy learns on the installed model — the same code either way.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlhf_robotics.preference.ensemble import RewardEnsemble, StackedStepReward, build_step_ensemble
from rlhf_robotics.preference.intrinsic import rune_beta, rune_bonus
from rlhf_robotics.preference.records import StoredJudgment
from rlhf_robotics.preference.reliability import ReliabilityFit, training_targets
from rlhf_robotics.preference.self_predictive import SelfPredictive
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.techniques import RUNEConfig, TechniquesConfig
from rlhf_robotics.preference.trainer import (
    PairDataset,
    RewardTrainerConfig,
    RewardTrainerMetrics,
    train_ensemble,
)
from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.policy import PhaseTimer
from rlhf_robotics.robotics.segments import SegmentFeatures
from rlhf_robotics.robotics.start_method import starting_workers

Fitted = tuple[RewardEnsemble, RewardTrainerMetrics] | tuple[None, None]
"""A refit's result: the refitted ensemble and its training metrics, or ``(None, None)`` without judgments."""


@dataclass
class Refit:
    """One refit, ready to run: a copy of the ensemble with its input statistics set, and the data (with the
    label-efficiency techniques: SURF's unlabelled segments, REED's runs of consecutive steps and its heads)."""

    ensemble: RewardEnsemble
    data: PairDataset
    config: RewardTrainerConfig
    rng: np.random.Generator
    techniques: TechniquesConfig
    unlabelled: torch.Tensor | None = None
    transitions: torch.Tensor | None = None
    self_predictive: SelfPredictive | None = None

    def run(self) -> tuple[RewardEnsemble, RewardTrainerMetrics]:
        return self.ensemble, train_ensemble(self.ensemble, self.data, self.config, self.rng, techniques=self.techniques,
                                             unlabelled=self.unlabelled, transitions=self.transitions,
                                             self_predictive=self.self_predictive)


class RUNEReward:
    """The learned reward plus RUNE's exploration bonus (Liang et al. 2022): β_t times the members' std, with
    β_t = β₀(1 − ρ)^t at the agent's current env step ``step()``."""

    def __init__(self, reward: StackedStepReward, config: RUNEConfig, step: Callable[[], int]) -> None:
        self.reward, self.config, self.step = reward, config, step

    def __call__(self, x: np.ndarray) -> np.ndarray:
        beta = rune_beta(self.config.beta0, self.config.decay, self.step())
        reward, members = self.reward.reward_and_members(x)
        return reward + rune_bonus(members, beta).astype(np.float32)


class RewardFitter:
    """The reward ensemble of one run and how it is refitted.

    Args:
        config: the experiment (``reward_model``, ``labels.reliability``, ``seed``).
        store: the preference store the judgments are read from.
        features: the stored segments' step features.
        buffer: the collector's transitions (input statistics and normalisation of each fit).
        rng: the ``reward_model`` random stream.
        timer: the loop's phase timer.
        in_dim: step features per step (observation ⊕ action).
        segment_steps: length of the buffer segments SURF and REED draw.
    """

    def __init__(self, config: ExperimentConfig, store: PreferenceStore, features: SegmentFeatures,
                 buffer: TransitionBuffer, rng: np.random.Generator, timer: PhaseTimer, in_dim: int,
                 segment_steps: int = 1) -> None:
        rm = config.reward_model
        self.config, self.store, self.features, self.buffer, self.rng, self.timer = rm, store, features, buffer, rng, timer
        self.reliability_method = config.labels.reliability
        self.ensemble = build_step_ensemble(in_dim, rm.ensemble_size, rm.mlp, seed=config.seed)
        self.judgment_rows: list[StoredJudgment] = []
        self.reliability: ReliabilityFit | None = None
        """The last fitted annotator model (labels.reliability=dawid_skene), logged with each round."""
        self.cursor = 0
        self.seed, self.segment_steps = config.seed, segment_steps
        self.self_predictive: SelfPredictive | None = None
        """REED's projector and predictor heads, kept between refits."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reward-refit")
        self._process_pool: ProcessPoolExecutor | None = None

    def dataset(self) -> PairDataset:
        """All judged comparisons so far, read from the store by cursor and aggregated."""
        new = self.store.judgments(after=self.cursor)
        if new:
            self.judgment_rows += new
            self.cursor = new[-1].id
        queries = {sq.id: sq.query for sq in self.store.queries()}
        # labels.reliability=none: aggregate_targets, no weights (the unweighted loss, as before issue 16)
        targets, weights, self.reliability = training_targets(self.judgment_rows, queries, self.reliability_method)
        ids: dict[str, int] = {}
        first, second, target = [], [], []
        for qid, t in targets.items():
            q = queries[qid]
            first.append(ids.setdefault(q.first, len(ids)))
            second.append(ids.setdefault(q.second, len(ids)))
            target.append(t)
        items = self.features.stack(list(ids)) if ids else np.zeros((0, 1, 1), np.float32)
        weight = None if weights is None else torch.as_tensor([weights[qid] for qid in targets], dtype=torch.float32)
        return PairDataset(torch.as_tensor(items), torch.as_tensor(first, dtype=torch.long),
                           torch.as_tensor(second, dtype=torch.long), torch.as_tensor(target, dtype=torch.float32),
                           weight=weight)

    def prepare(self, round: int) -> Refit | None:
        """A refit of a copy of the ensemble on every judgment so far (round 0: the full epochs, later rounds
        ``reward_model.refit_epochs``); None while there is no judgment to learn from."""
        data = self.dataset()
        if len(data) == 0:
            return None
        ensemble = copy.deepcopy(self.ensemble)
        self._standardise_inputs(ensemble, data, round)
        trainer = self.config.trainer
        if round > 0:
            trainer = dataclasses.replace(trainer, epochs=min(trainer.epochs, self.config.refit_epochs))
        tech, refit = self.config.techniques, Refit(ensemble, data, trainer, self.rng, self.config.techniques)
        if tech.surf.enabled:  # unlabelled segments of the buffer, μ per labelled pair (two segments a pair)
            n = min(2 * math.ceil(tech.surf.ratio * len(data)), self.UNLABELLED_MAX)
            refit.unlabelled = self._buffer_segments(n, "surf")
        if tech.reed.enabled:  # runs of consecutive steps from the buffer; the heads carry over between rounds
            refit.transitions = self._buffer_segments(self.TRANSITION_RUNS, "reed")
            if self.self_predictive is None:
                self.self_predictive = SelfPredictive(ensemble, tech.reed, seed=self.seed)
            refit.self_predictive = self.self_predictive
        return refit

    UNLABELLED_MAX = 4096
    """At most this many unlabelled segments per refit for SURF's pseudo-labels."""
    TRANSITION_RUNS = 512
    """Segment-long runs of consecutive steps per refit for REED's self-predictive pre-training."""

    def _buffer_segments(self, n: int, prefix: str) -> torch.Tensor:
        segs = self.buffer.sample_segments(n, self.segment_steps, self.rng, prefix)
        return torch.as_tensor(segs.features())

    def fit(self, round: int) -> Fitted:
        """Refit now; ``(None, None)`` without judgments."""
        refit = self.prepare(round)
        return refit.run() if refit is not None else (None, None)

    def start(self, round: int) -> PendingRefit:
        """Refit in the background (``reward_model.refit_worker``: a thread, or a worker process); its result is
        what :meth:`fit` would return, and afterwards the random stream is where :meth:`fit` would leave it."""
        refit = self.prepare(round)
        if refit is None:
            done: Future[Fitted] = Future()
            done.set_result((None, None))
            return PendingRefit(done, self)
        if self.config.refit_worker == "process":
            return PendingRefit(self.warm_worker().submit(_run_in_worker, refit), self)

        def work() -> Fitted:
            start = time.perf_counter()
            try:
                return refit.run()
            finally:
                self.timer.seconds["reward_training_background"] += time.perf_counter() - start

        return PendingRefit(self._executor.submit(work), self)

    def warm_worker(self) -> ProcessPoolExecutor:
        """The refit worker process (``refit_worker=process``), started once per run and made to import what a refit
        needs, so that the first background refit does not wait for a Python process to start and import torch
        (about 2 s: longer than the rollout a relabelling refit has to finish in). Returns at once; the worker
        warms up beside whatever the agent does next."""
        if self._process_pool is None:  # spawn: no copy of the agent's threads or state
            self._process_pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_init_refit_worker)
            with starting_workers():  # the process starts in this first submit
                self._process_pool.submit(_warm_up)
        return self._process_pool

    def _standardise_inputs(self, ensemble: RewardEnsemble, data: PairDataset, round: int) -> None:
        """Set the members' input statistics before a fit: from the initial policy's steps at round 0, then
        (``input_statistics=per_round``) from every labelled segment's steps, keeping the function unchanged."""
        if round == 0:
            steps, _ = self.buffer.sample_steps(4096, self.rng)
            for m in ensemble.members:
                m.set_input_statistics(torch.as_tensor(steps, dtype=torch.float32))  # type: ignore[operator]
        elif self.config.input_statistics == "per_round" and len(data):
            steps_t = data.items.reshape(-1, data.items.shape[-1]).float()
            for m in ensemble.members:
                m.restandardise(steps_t)  # type: ignore[operator]

    def install(self, ensemble: RewardEnsemble) -> StackedStepReward:
        """Normalise ``ensemble`` on recent transitions, make it the run's model; returns its step reward."""
        steps, _ = self.buffer.sample_steps(4096, self.rng)
        ensemble.cpu()
        ensemble.fit_normalisation(torch.as_tensor(steps, dtype=torch.float32))
        self.ensemble = ensemble
        return StackedStepReward(ensemble)

    def segment_scores(self, features: np.ndarray) -> np.ndarray:
        """The ensemble's mean predicted return of each segment, ``(N, T, F)`` → ``(N,)``."""
        with torch.no_grad():
            return self.ensemble.item_scores(torch.as_tensor(features)).mean(0).numpy()

    def gold_accuracy(self) -> float | None:
        """Share of the store's gold questions (people's runs: pairs with a known answer) whose answer the
        installed reward model gives; None without gold questions."""
        gold = [sq.query for sq in self.store.queries() if sq.query.gold_label in ("first", "second")]
        if not gold:
            return None
        first = self.segment_scores(self.features.stack([q.first for q in gold]))
        second = self.segment_scores(self.features.stack([q.second for q in gold]))
        return float(np.mean([s == (q.gold_label == "first") for s, q in zip(first > second, gold)]))

    def catch_up(self, ids: Iterable[str] = ()) -> None:
        """Read every judgment in the store (a resumed run's, including any newer than its checkpoint)."""
        self.features.load(ids)
        self.dataset()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._process_pool is not None:
            self._process_pool.shutdown(wait=True, cancel_futures=True)


def _init_refit_worker() -> None:
    """The refit worker's start: one torch thread, and Ctrl-C left to the run. A SIGINT to the terminal's process
    group reaches the worker too; the run stops it (``close``), and a KeyboardInterrupt of its own would only print
    a traceback beside the run's "stopped by SIGINT"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _warm_up() -> None:
    """Runs first in the worker process: its imports (torch, the trainer, this module) and one tiny fit (torch's
    first backward pass and optimiser step set up what later ones reuse) are what the first refit would otherwise
    wait for. Draws nothing from the random streams a refit uses (its own generator; torch's global one restored)."""
    with torch.random.fork_rng(devices=[]):
        ensemble = build_step_ensemble(2, 1)
        data = PairDataset(torch.zeros(2, 2, 2), torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0]))
        train_ensemble(ensemble, data, RewardTrainerConfig(epochs=1), np.random.default_rng(0))


def _run_in_worker(refit: Refit) -> tuple[RewardEnsemble, RewardTrainerMetrics, dict[str, Any], SelfPredictive | None, float]:
    """A refit in the worker process; returns what the parent needs to continue as if it had run it itself."""
    start = time.perf_counter()
    ensemble, metrics = refit.run()
    return ensemble, metrics, dict(refit.rng.bit_generator.state), refit.self_predictive, time.perf_counter() - start


class PendingRefit:
    """A background refit; :meth:`result` waits for it (and takes over a worker process's random-stream state and
    REED heads, so the run continues exactly as after a refit in this process)."""

    def __init__(self, future: Future[Any], fitter: RewardFitter) -> None:
        self.future, self.fitter = future, fitter

    def done(self) -> bool:
        """Whether the refit has finished (its :meth:`result` will not wait)."""
        return self.future.done()

    def result(self) -> Fitted:
        out = self.future.result()
        if len(out) == 2:  # a thread's (or no) refit: the run's own objects were updated in place
            return out  # type: ignore[no-any-return]
        ensemble, metrics, rng_state, self_predictive, seconds = out
        self.fitter.rng.bit_generator.state = rng_state
        if self_predictive is not None:
            self.fitter.self_predictive = self_predictive
        self.fitter.timer.seconds["reward_training_background"] += seconds
        return ensemble, metrics
