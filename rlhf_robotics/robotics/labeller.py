"""The labelling stage: which segment pairs to ask about, and who answers.

:class:`QueryAsker` cuts candidate pairs from the collector's buffer, picks the most informative with the shared
selectors, and stores the segments and the queries. A labeller then gets the answers: :class:`TeacherLabeller`
(a synthetic teacher judges at once) or :class:`PeopleLabeller` (people in the labelling app: it owns the clip pool,
waits for the first answers and reports in ``status.json``). Answers go to the preference store either way; the
reward fitter reads them from there.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
import torch

from rlhf_robotics.preference.ensemble import RewardEnsemble
from rlhf_robotics.preference.records import Judgment, Query, aggregate_targets
from rlhf_robotics.preference.rubric import Rubric
from rlhf_robotics.preference.rundir import RunPaths, write_status
from rlhf_robotics.preference.selection import FEATURE_SELECTORS, candidate_count, select
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.teachers import Teacher
from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.config import ExperimentConfig, LabelsConfig
from rlhf_robotics.robotics.physics import rubric_step_scores
from rlhf_robotics.robotics.policy import PhaseTimer
from rlhf_robotics.robotics.segments import SegmentFeatures, Segments


class Sampler(Protocol):
    def segments(self, n: int, rng: np.random.Generator, id_prefix: str, recent_steps: int | None = None,
                 same_episode: float = 0.0, cover_episode_edges: bool = False) -> Segments: ...


class QueryAsker:
    """Chooses and stores the pairs to ask about.

    Args:
        store: the preference store (queries go there).
        features: the run's stored segments and their step features.
        oversampling: candidates per asked pair for the active selectors (``selection.oversampling``).
        env_id: stored in every query's metadata.
        rng: ``segments`` (which steps are cut) and ``selection`` (ties and random selectors) streams.
        recent_steps: candidates only from the last this many env steps (QPA; None = the whole buffer).
        same_episode: share of candidate pairs cut from one episode (``selection.same_episode``).
        cover_episode_edges: cut episodes' first and last steps as often as their middle ones
            (``selection.cover_episode_edges``).
    """

    def __init__(self, store: PreferenceStore, features: SegmentFeatures, oversampling: float, env_id: str,
                 rng: dict[str, np.random.Generator], recent_steps: int | None = None,
                 same_episode: float = 0.0, cover_episode_edges: bool = False) -> None:
        self.store, self.features, self.oversampling, self.env_id = store, features, oversampling, env_id
        self.rng, self.recent_steps, self.same_episode = rng, recent_steps, same_episode
        self.cover_episode_edges = cover_episode_edges

    def ask(self, n: int, selector: str, round: int, sampler: Sampler, ensemble: RewardEnsemble) -> tuple[Segments, list[int]]:
        """Store ``n`` pairs chosen by ``selector`` among candidates cut from ``sampler``; returns the pairs'
        segments (consecutive pairs) and their query ids."""
        c = candidate_count(n, self.oversampling, selector)
        batch, prefix = self._batch_names(round)
        segs = sampler.segments(2 * c, self.rng["segments"], prefix, self.recent_steps, self.same_episode,
                                self.cover_episode_edges)
        feats = segs.features()
        if selector == "uniform":
            chosen, scores = np.arange(n), np.zeros(c)
        else:
            with torch.no_grad():
                item = ensemble.item_scores(torch.as_tensor(feats)).numpy()  # (E, 2c); installed ensembles live on the CPU
            pairs: dict[str, np.ndarray] = {}
            if selector in FEATURE_SELECTORS:  # k-center: candidates far from each other and from labelled pairs
                pairs["features"] = _pair_features(feats)
                labelled = [(sq.query.first, sq.query.second) for sq in self.store.queries()]
                if labelled:
                    pairs["centres"] = _pair_features(self.features.stack([sid for pair in labelled for sid in pair]))
            chosen, scores = select(item[:, 0::2] - item[:, 1::2], n, selector, self.rng["selection"], **pairs)
        keep = np.stack([2 * chosen, 2 * chosen + 1], axis=1).ravel()
        segs = segs.take(keep)
        self.features.save(batch, segs, feats[keep])
        returns = segs.returns()
        queries = [
            Query(segs.ids[2 * k], segs.ids[2 * k + 1], selector=selector, score=float(scores[chosen[k]]),
                  priority=float(scores[chosen[k]]),
                  meta={"round": round, "true_return_first": float(returns[2 * k]),
                        "true_return_second": float(returns[2 * k + 1]), "env_id": self.env_id})
            for k in range(len(chosen))
        ]
        return segs, self.store.add_queries(queries)

    def _batch_names(self, round: int) -> tuple[str, str]:
        """Segment batch file and id prefix for the next ask, unique even when a killed round is redone."""
        n, k = self.store.count_queries(), 0
        while True:
            suffix = f"-{k}" if k else ""
            batch, prefix = f"round_{round:03d}_{n:06d}{suffix}", f"r{round:03d}-q{n:06d}{suffix}"
            if not (self.features.store.root / f"{batch}.npz").exists():
                return batch, prefix
            k += 1


def _pair_features(features: np.ndarray) -> np.ndarray:
    """``(2P, T, D)`` step features of consecutive pairs → ``(P, 2·T·D)``, one row per pair (both segments)."""
    return features.reshape(len(features) // 2, -1)


class Labeller(Protocol):
    """Who answers the stored queries."""

    def deliver(self, segs: Segments, query_ids: list[int], round: int) -> None:
        """Hand newly stored queries (consecutive pairs of ``segs``) to whoever answers them."""

    def answer_pending(self) -> int:
        """Answer stored queries left without a judgment by a killed run; returns how many."""

    def wait_for_first(self, round: int) -> None:
        """Block until the first fit has answers to learn from."""

    def close(self, finished: bool) -> None: ...


class TeacherLabeller:
    """A synthetic teacher answers every query as soon as it is stored.

    Args:
        teacher: the teacher (its own random stream).
        judge_on: ``reward`` (the hidden true reward) or ``rubric`` (the task's physics rubric).
        rubric: the weighted rubric (needed for ``judge_on="rubric"``).
        store, features: the preference store and the run's segments.
        run_dir: where ``status.json`` is written.
        timer: the loop's phase timer (``labelling``).
    """

    def __init__(self, teacher: Teacher, judge_on: str, rubric: Rubric | None, store: PreferenceStore,
                 features: SegmentFeatures, run_dir: str, timer: PhaseTimer) -> None:
        self.teacher, self.judge_on, self.rubric = teacher, judge_on, rubric
        self.store, self.features, self.run_dir, self.timer = store, features, run_dir, timer

    def deliver(self, segs: Segments, query_ids: list[int], round: int) -> None:
        write_status(self.run_dir, "labelling", f"round {round}: the teacher answers {len(query_ids)} queries", round)
        with self.timer("labelling"):
            self._judge(segs, query_ids)

    def _judge(self, segs: Segments, query_ids: list[int]) -> None:
        scores = segs.reward if self.judge_on == "reward" else rubric_step_scores(self.rubric, segs.terms)
        labels = self.teacher.judge(scores[0::2], scores[1::2])
        self.store.add_judgments([Judgment(q, lab, self.teacher.annotator) for q, lab in zip(query_ids, labels)])

    def answer_pending(self) -> int:
        answered = {row.judgment.query_id for row in self.store.judgments()}
        pending = [sq for sq in self.store.queries() if sq.id not in answered]
        if pending:
            segs = self.features.store.get([sid for sq in pending for sid in (sq.query.first, sq.query.second)])
            self._judge(segs, [sq.id for sq in pending])
        return len(pending)

    def wait_for_first(self, round: int) -> None:
        write_status(self.run_dir, "waiting_for_policy", f"round {round}: fitting the reward model", round)

    def close(self, finished: bool) -> None:
        pass


class PeopleLabeller:
    """People answer in the labelling app: clips are rendered in worker processes and the app serves them.

    Args:
        paths: the run's layout (clips folder, status file).
        config: the experiment (``env`` for the clips, ``labels`` for clip length, context, waiting).
        store: the preference store the app writes judgments to.
        buffer: the collector's buffer (episode context around each clip).
    """

    def __init__(self, paths: RunPaths, config: ExperimentConfig, store: PreferenceStore, buffer: TransitionBuffer) -> None:
        from rlhf_robotics.robotics.render_pool import ClipPool, clip_config

        self.paths, self.labels, self.store, self.buffer = paths, config.labels, store, buffer
        self.pool = ClipPool(paths.clips, clip_config(config.env, config.labels.min_clip_seconds),
                             workers=config.labels.render_workers)

    def deliver(self, segs: Segments, query_ids: list[int], round: int) -> None:
        from rlhf_robotics.robotics.clip_context import clip_context

        lab: LabelsConfig = self.labels  # clips at least min_clip_seconds long: context around the segment, or slowed
        self.pool.request(segs, context=clip_context(self.buffer, segs, lab.min_clip_seconds, lab.clip_context_seconds))
        write_status(self.paths.root, "rendering", f"rendering {len(segs)} clips for round {round}", round)

    def answer_pending(self) -> int:
        return 0  # people's open queries stay with the app

    def wait_for_first(self, round: int) -> None:
        """Block until ``labels.human_min_initial`` answers with a training target exist (the first fit needs
        some), showing progress in ``status.json``; later rounds never wait."""
        need, deadline = self.labels.human_min_initial, time.monotonic() + self.labels.human_timeout_s
        while True:
            have = len(aggregate_targets(self.store.judgments()))
            if have >= need:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {have} of the {need} answers needed for the first reward fit arrived within "
                    f"{self.labels.human_timeout_s:.0f} s; resume the run (resume={self.paths.root}) to keep waiting, "
                    "or lower labels.human_min_initial"
                )
            write_status(self.paths.root, "labelling", f"waiting for the first answers: {have} of {need}", round)
            time.sleep(1.0)

    def close(self, finished: bool) -> None:
        """A run cut short (an error, SIGTERM, Ctrl-C) also ends the running renders."""
        self.pool.close(wait=False, terminate=not finished)
