"""Inter-annotator agreement: raw agreement, Cohen's κ and Krippendorff's α (nominal), per annotator and overall.

Answers are nominal categories (``first``, ``second``, ``tie``, ``cant_tell``); ``skip`` is no answer and is left
out. Each annotator's answer to a query is their earliest current judgment of it (later ones are mirrored
repeats, scored as self-consistency elsewhere, not as agreement between people).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rlhf_robotics.preference.records import StoredJudgment, current_judgments


def raw_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Share of units on which two annotators gave the same answer (nan when there are no units)."""
    if len(a) != len(b):
        raise ValueError(f"both annotators must answer the same units, got {len(a)} and {len(b)} answers")
    if not a:
        return math.nan
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)]))


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's κ = (p_o − p_e) / (1 − p_e) for two annotators' answers to the same units (Cohen 1960).

    ``p_o`` is the raw agreement and ``p_e = Σ_k p_a(k) p_b(k)`` the agreement expected from each annotator's
    own answer frequencies. Returns nan when κ is undefined (no units, or both always gave one same answer).
    """
    p_o = raw_agreement(a, b)
    if math.isnan(p_o):
        return math.nan
    categories = sorted(set(a) | set(b), key=repr)
    index = {c: i for i, c in enumerate(categories)}
    freq_a = np.bincount([index[x] for x in a], minlength=len(categories)) / len(a)
    freq_b = np.bincount([index[x] for x in b], minlength=len(categories)) / len(b)
    p_e = float(freq_a @ freq_b)
    if p_e >= 1.0:
        return math.nan
    return (p_o - p_e) / (1.0 - p_e)


def krippendorff_alpha(units: Iterable[Sequence[Hashable]]) -> float:
    """Krippendorff's α for nominal data: α = 1 − D_o / D_e (Krippendorff 2011, "Computing Krippendorff's α").

    Args:
        units: for each unit, the answers it received (any number of annotators, missing ones simply absent).
            Units with fewer than two answers are not pairable and are ignored.

    Returns:
        α in [−1, 1] (1 = perfect agreement, 0 = chance); nan when there are no pairable units or only one
        category was ever used.
    """
    pairable = [list(u) for u in units if len(u) >= 2]
    if not pairable:
        return math.nan
    categories = sorted({v for u in pairable for v in u}, key=repr)
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    # Coincidence matrix: every ordered pair of answers from different annotators in a unit adds 1/(m_u − 1).
    o = np.zeros((k, k))
    for u in pairable:
        counts = np.bincount([index[v] for v in u], minlength=k).astype(float)
        o += (np.outer(counts, counts) - np.diag(counts)) / (len(u) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    disagree_observed = o.sum() - np.trace(o)
    disagree_expected = (n_c.sum() ** 2 - (n_c**2).sum()) / (n - 1)
    if disagree_expected == 0:
        return math.nan
    return float(1.0 - disagree_observed / disagree_expected)


@dataclass(frozen=True)
class AnnotatorAgreement:
    """How one annotator agrees with the others on the queries they share."""

    annotator: str
    """Annotator id as stored in judgments."""
    answers: int
    """Queries this annotator answered (skips excluded)."""
    shared: int
    """Of those, queries someone else answered too."""
    raw: float
    """Share of (this annotator, other annotator) answer pairs on shared queries that match."""
    kappa: float
    """Mean Cohen's κ against each other annotator with at least ``min_shared`` shared queries."""


@dataclass(frozen=True)
class AgreementReport:
    """Agreement over a whole store; log under ``labels/agreement_*``."""

    raw: float
    """Share of matching answer pairs over all pairs of annotators on all shared queries."""
    kappa: float
    """Mean of pairwise Cohen's κ over annotator pairs with ≥ ``min_shared`` shared queries (Light's κ)."""
    alpha: float
    """Krippendorff's α (nominal) over every query with at least two answers."""
    units: int
    """Queries with at least two annotators' answers."""
    per_annotator: list[AnnotatorAgreement] = field(default_factory=list)
    """One entry per annotator, sorted by id."""


def answers_by_query(rows: Iterable[StoredJudgment]) -> dict[int, dict[str, str]]:
    """query id → annotator → answer, from current judgments, skips left out, earliest answer per annotator."""
    table: dict[int, dict[str, str]] = defaultdict(dict)
    for row in current_judgments(rows):
        j = row.judgment
        if j.label != "skip":
            table[j.query_id].setdefault(j.annotator, j.label)
    return dict(table)


def agreement_report(rows: Iterable[StoredJudgment], min_shared: int = 2) -> AgreementReport:
    """Raw agreement, Cohen's κ and Krippendorff's α of every annotator in ``rows``.

    Args:
        rows: judgments as read from the store (superseded rows and undos are dropped here).
        min_shared: fewest shared queries for a pair of annotators to get a κ.
    """
    table = answers_by_query(rows)
    annotators = sorted({a for answers in table.values() for a in answers})
    pair_answers: dict[tuple[str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for answers in table.values():
        for x, y in itertools.combinations(sorted(answers), 2):
            pair_answers[(x, y)][0].append(answers[x])
            pair_answers[(x, y)][1].append(answers[y])
    kappas = {p: cohens_kappa(*ab) for p, ab in pair_answers.items() if len(ab[0]) >= min_shared}

    def mean(values: Iterable[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        return float(np.mean(finite)) if finite else math.nan

    def matches(pairs: Iterable[tuple[str, str]]) -> float:
        hits = [x == y for p in pairs for x, y in zip(*pair_answers[p], strict=True)]
        return float(np.mean(hits)) if hits else math.nan

    per = []
    for a in annotators:
        mine = [p for p in pair_answers if a in p]
        per.append(
            AnnotatorAgreement(
                annotator=a,
                answers=sum(a in answers for answers in table.values()),
                shared=sum(a in answers and len(answers) > 1 for answers in table.values()),
                raw=matches(mine),
                kappa=mean(kappas[p] for p in mine if p in kappas),
            )
        )
    units = [list(answers.values()) for answers in table.values() if len(answers) >= 2]
    return AgreementReport(
        raw=matches(list(pair_answers)),
        kappa=mean(kappas.values()),
        alpha=krippendorff_alpha(units),
        units=len(units),
        per_annotator=per,
    )
