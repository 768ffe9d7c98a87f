"""Who is reliable: a one-coin Dawid–Skene model of each annotator, fitted by EM from the answers themselves,
and the per-label weights it gives the reward model's loss.

Model (Dawid & Skene 1979, the "one-coin" form of Raykar et al. 2010): every query q has a latent answer
z_q ∈ {first, second} with prior ½ each; annotator a answers z_q with probability p_a (their *reliability*)
and the other side with 1 − p_a, independently across answers. Gold questions (``gold_label`` known) clamp
z_q; an annotator's mirrored repeats are two answers to the same z_q, so answering them inconsistently pulls p_a
toward ½. Ties, can't-tell and skips carry no side and stay out of the fit.

EM maximises the posterior of p under a Beta prior written as ``prior_strength`` virtual answers at
``prior_reliability``: p_a = (Σ_j E[answer j agrees] + c·p₀) / (n_a + c). A query answered once, by one
person, and not gold carries no information about p_a (its likelihood is ½ whatever p_a is), so an annotator
seen only on such queries keeps p₀; gold and overlap/repeats move it.

Weights: each judgment is weighted by its annotator's log-odds  w_a = max(0, log(p_a / (1 − p_a))), the weight
of the optimal weighted majority vote under this model (Nitzan & Paroush 1982); a random responder (p ≈ ½)
gets ≈ 0, an adversary (p < ½) is clipped to 0 rather than trusted inverted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from rlhf_robotics.preference.records import Query, StoredJudgment, aggregate_targets, current_judgments

PRIOR_RELIABILITY = 0.75
"""p₀: an annotator's reliability before any evidence (most people try; some do not)."""
PRIOR_STRENGTH = 4.0
"""c: how many virtual answers at p₀ the prior is worth."""

_SIDE = {"first": 1.0, "second": -1.0}


@dataclass(frozen=True)
class ReliabilityFit:
    """The fitted model."""

    reliability: dict[str, float]
    """annotator → P(answers the latent preference), in (0, 1)."""
    answers: dict[str, int]
    """annotator → decisive (first/second) answers used in the fit."""
    gold_answers: dict[str, int]
    """annotator → of those, answers to gold questions."""
    posterior: dict[int, float]
    """query id → P(z = first | answers) (1/0 for gold questions)."""
    iterations: int
    """EM iterations run."""

    def weight(self, annotator: str) -> float:
        """Log-odds weight of ``annotator``'s labels (0 for one never seen, or no better than chance)."""
        p = self.reliability.get(annotator)
        return 0.0 if p is None else log_odds_weight(p)


def log_odds_weight(p: float) -> float:
    """``max(0, log(p / (1 − p)))``: weight of a label from an annotator of reliability ``p`` in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"reliability must be in (0, 1), got {p}")
    return max(0.0, math.log(p / (1.0 - p)))


def fit_one_coin(
    query: np.ndarray,
    annotator: np.ndarray,
    side: np.ndarray,
    gold: np.ndarray,
    n_annotators: int,
    *,
    prior_reliability: float = PRIOR_RELIABILITY,
    prior_strength: float = PRIOR_STRENGTH,
    max_iter: int = 500,
    tol: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray, int]:
    """EM for the one-coin Dawid–Skene model over index arrays.

    Args:
        query: ``(J,)`` query index of each answer, in ``[0, Q)``.
        annotator: ``(J,)`` annotator index of each answer, in ``[0, n_annotators)``.
        side: ``(J,)`` +1 for "first", −1 for "second".
        gold: ``(Q,)`` +1/−1 for a gold question's known answer, 0 where unknown.
        n_annotators: A.
        prior_reliability: p₀, the reliability an annotator has before any evidence.
        prior_strength: c, how many virtual answers at p₀ the prior is worth.
        max_iter: most EM iterations.
        tol: stop when no reliability moves more than this.

    Returns:
        ``(reliability (A,), posterior P(z_q = first) (Q,), iterations)``.
    """
    if not 0.0 < prior_reliability < 1.0 or prior_strength <= 0:
        raise ValueError(f"prior_reliability must be in (0, 1) and prior_strength > 0, got {prior_reliability}, {prior_strength}")
    query, annotator, side = np.asarray(query, int), np.asarray(annotator, int), np.asarray(side, float)
    gold = np.asarray(gold, float)
    n = np.bincount(annotator, minlength=n_annotators).astype(float)
    p = np.full(n_annotators, prior_reliability)
    mu = np.full(len(gold), 0.5)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (iterations run are returned)
        # E-step: log-odds of z = first is the sum over answers of ±logit(p_a); gold clamps it.
        logit = np.log(p) - np.log1p(-p)
        evidence = np.bincount(query, weights=side * logit[annotator], minlength=len(gold))
        mu = 1.0 / (1.0 + np.exp(-evidence))
        mu = np.where(gold > 0, 1.0, np.where(gold < 0, 0.0, mu))
        # M-step: expected agreements per annotator, plus the prior's virtual answers.
        agree = np.where(side > 0, mu[query], 1.0 - mu[query])
        new = (np.bincount(annotator, weights=agree, minlength=n_annotators) + prior_strength * prior_reliability) / (
            n + prior_strength
        )
        moved = float(np.max(np.abs(new - p))) if n_annotators else 0.0
        p = new
        if moved < tol:
            break
    return p, mu, it


def fit_reliability(
    rows: Iterable[StoredJudgment],
    queries: Mapping[int, Query],
    *,
    prior_reliability: float = PRIOR_RELIABILITY,
    prior_strength: float = PRIOR_STRENGTH,
) -> ReliabilityFit:
    """Fit each annotator's reliability from the store's current judgments (edits and undos applied).

    Args:
        rows: judgments, as the store returns them.
        queries: query id → query (for gold answers).
        prior_reliability: see :func:`fit_one_coin`.
        prior_strength: see :func:`fit_one_coin`.
    """
    decisive = [r for r in current_judgments(rows) if r.judgment.label in _SIDE]
    names = sorted({r.judgment.annotator for r in decisive})
    a_index = {a: i for i, a in enumerate(names)}
    q_ids = sorted({r.judgment.query_id for r in decisive})
    q_index = {q: i for i, q in enumerate(q_ids)}
    gold = np.zeros(len(q_ids))
    for q, i in q_index.items():
        label = queries[q].gold_label if q in queries else None
        gold[i] = _SIDE.get(label or "", 0.0)
    p, mu, iterations = fit_one_coin(
        np.array([q_index[r.judgment.query_id] for r in decisive], dtype=int),
        np.array([a_index[r.judgment.annotator] for r in decisive], dtype=int),
        np.array([_SIDE[r.judgment.label] for r in decisive]),
        gold,
        len(names),
        prior_reliability=prior_reliability,
        prior_strength=prior_strength,
    )
    counts: dict[str, int] = defaultdict(int)
    gold_counts: dict[str, int] = defaultdict(int)
    for r in decisive:
        counts[r.judgment.annotator] += 1
        gold_counts[r.judgment.annotator] += bool(gold[q_index[r.judgment.query_id]])
    return ReliabilityFit(
        reliability={a: float(p[i]) for a, i in a_index.items()},
        answers=dict(counts),
        gold_answers={a: gold_counts[a] for a in names},
        posterior={q: float(mu[i]) for q, i in q_index.items()},
        iterations=iterations,
    )


def weighted_targets(rows: Iterable[StoredJudgment], weight: Mapping[str, float]) -> dict[int, tuple[float, float]]:
    """Per query, the weighted version of :func:`~rlhf_robotics.preference.records.aggregate_targets`.

    Each current judgment with a training target (first 1, second 0, tie ½) counts with its annotator's weight
    (absent annotators weigh 0): target = Σ wⱼ tⱼ / Σ wⱼ, and the pair's loss weight is Σ wⱼ. Queries whose
    answers all weigh 0 are left out. With every weight 1 the targets equal ``aggregate_targets``'s and the
    pair weight is the number of answers.

    Returns:
        query id → (target P(first ≻ second), loss weight).
    """
    sums: dict[int, float] = defaultdict(float)
    totals: dict[int, float] = defaultdict(float)
    for row in current_judgments(rows):
        target = row.judgment.target
        w = weight.get(row.judgment.annotator, 0.0)
        if target is None or w <= 0.0:
            continue
        sums[row.judgment.query_id] += w * target
        totals[row.judgment.query_id] += w
    return {q: (sums[q] / totals[q], totals[q]) for q in sums}


def training_targets(
    rows: Iterable[StoredJudgment], queries: Mapping[int, Query], model: str
) -> tuple[dict[int, float], dict[int, float] | None, ReliabilityFit | None]:
    """Targets (and loss weights) of every judged query under a reliability ``model``.

    ``none``: :func:`~rlhf_robotics.preference.records.aggregate_targets`, no weights (every label counts the
    same, as before this model existed). ``dawid_skene``: :func:`fit_reliability`, then
    :func:`weighted_targets` with each annotator's :func:`log_odds_weight`.

    Returns:
        ``(query id → target, query id → loss weight or None, the fit or None)``.
    """
    rows = list(rows)
    if model == "none":
        return aggregate_targets(rows), None, None
    if model != "dawid_skene":
        raise ValueError(f"reliability model {model!r} is unknown; expected none or dawid_skene")
    fit = fit_reliability(rows, queries)
    pairs = weighted_targets(rows, {a: fit.weight(a) for a in fit.reliability} | _tie_only_weights(rows, fit))
    return {q: t for q, (t, _) in pairs.items()}, {q: w for q, (_, w) in pairs.items()}, fit


def _tie_only_weights(rows: list[StoredJudgment], fit: ReliabilityFit) -> dict[str, float]:
    """Annotators who only ever answered tie have no decisive answer to fit: they keep the prior's weight."""
    prior = log_odds_weight(PRIOR_RELIABILITY)
    return {r.judgment.annotator: prior for r in rows if r.judgment.annotator not in fit.reliability}
