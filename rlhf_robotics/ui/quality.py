"""Label quality for the dashboard: gold accuracy, self-consistency on mirrored repeats, position bias, pace and
agreement, all computed from the store alone (so they can be recomputed offline from an export); and the
dashboard's time series (:func:`dashboard_series`): the run's learning curve from its ``metrics.jsonl``, answers
per minute per annotator, agreement over time and each annotator's fitted reliability.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rlhf_robotics.preference.agreement import agreement_report
from rlhf_robotics.preference.records import Query, StoredJudgment, current_judgments
from rlhf_robotics.preference.reliability import fit_reliability


@dataclass
class AnnotatorQuality:
    """One annotator's numbers."""

    annotator: str
    judgments: int
    """Current answers (undone ones excluded), skips included."""
    per_hour_last_hour: int
    """Answers given in the last 60 minutes."""
    median_seconds: float
    """Median time on task."""
    gold_answered: int
    """Gold questions answered with first/second (ties and can't-tell are counted apart)."""
    gold_accuracy: float
    """Share of those that match the hidden objective."""
    repeats: int
    """Mirrored repeats of the annotator's own earlier pairs."""
    self_consistency: float
    """Share of repeats answered the same (relative to first/second, so a side-biased answer disagrees)."""
    left_rate: float
    """Share of decisive answers that chose the item shown on the left (0.5 = no position bias)."""
    left_z: float
    """Binomial z-score of ``left_rate`` against 0.5; |z| > 2 suggests a position bias."""
    agreement_raw: float
    agreement_kappa: float


@dataclass
class QualityReport:
    """Everything the dashboard shows, and ``/api/stats`` returns as JSON."""

    judgments: int
    per_hour_last_hour: int
    agreement_raw: float
    agreement_kappa: float
    agreement_alpha: float
    shared_queries: int
    gold_accuracy: float
    left_rate: float
    per_annotator: list[AnnotatorQuality] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (nan becomes None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return clean(asdict(self))  # type: ignore[no-any-return]


def _share(hits: int, n: int) -> float:
    return hits / n if n else math.nan


def chose_left(label: str, shown_left: str | None) -> bool | None:
    """Whether a decisive answer picked the left item; None for ties, can't-tell, skips or unknown sides."""
    if label not in ("first", "second") or shown_left is None:
        return None
    return label == shown_left


def quality_report(rows: Sequence[StoredJudgment], queries: dict[int, Query], now: float | None = None) -> QualityReport:
    """Quality numbers for every human annotator (``human:`` ids) in ``rows``.

    Args:
        rows: the store's judgments.
        queries: query id → query (for gold labels).
        now: the clock for "last hour" (default: the current time).
    """
    now = time.time() if now is None else now
    current = [r for r in current_judgments(rows) if r.judgment.annotator.startswith("human:")]
    by_annotator: dict[str, list[StoredJudgment]] = defaultdict(list)
    for r in current:
        by_annotator[r.judgment.annotator].append(r)
    agreement = agreement_report(current)
    agree_by = {a.annotator: a for a in agreement.per_annotator}
    per = []
    total_gold = [0, 0]
    total_left = [0, 0]
    for name, mine in sorted(by_annotator.items()):
        gold = [r for r in mine if queries.get(r.judgment.query_id, None) is not None
                and queries[r.judgment.query_id].gold_label is not None and r.judgment.label in ("first", "second")]
        gold_hits = sum(r.judgment.label == queries[r.judgment.query_id].gold_label for r in gold)
        first_answer: dict[int, str] = {}
        repeats = consistent = 0
        for r in mine:
            if r.judgment.label == "skip":
                continue
            q = r.judgment.query_id
            if q in first_answer:
                repeats += 1
                consistent += r.judgment.label == first_answer[q]
            else:
                first_answer[q] = r.judgment.label
        sides = [s for s in (chose_left(r.judgment.label, r.judgment.shown_left) for r in mine) if s is not None]
        n_left = sum(sides)
        seconds = [r.judgment.seconds for r in mine if r.judgment.seconds is not None]
        agree = agree_by.get(name)
        per.append(
            AnnotatorQuality(
                annotator=name,
                judgments=len(mine),
                per_hour_last_hour=sum(r.judgment.created >= now - 3600 for r in mine),
                median_seconds=statistics.median(seconds) if seconds else math.nan,
                gold_answered=len(gold),
                gold_accuracy=_share(gold_hits, len(gold)),
                repeats=repeats,
                self_consistency=_share(consistent, repeats),
                left_rate=_share(n_left, len(sides)),
                left_z=(n_left - 0.5 * len(sides)) / math.sqrt(0.25 * len(sides)) if sides else math.nan,
                agreement_raw=agree.raw if agree else math.nan,
                agreement_kappa=agree.kappa if agree else math.nan,
            )
        )
        total_gold[0] += gold_hits
        total_gold[1] += len(gold)
        total_left[0] += n_left
        total_left[1] += len(sides)
    return QualityReport(
        judgments=len(current),
        per_hour_last_hour=sum(r.judgment.created >= now - 3600 for r in current),
        agreement_raw=agreement.raw,
        agreement_kappa=agreement.kappa,
        agreement_alpha=agreement.alpha,
        shared_queries=agreement.units,
        gold_accuracy=_share(*total_gold),
        left_rate=_share(*total_left),
        per_annotator=per,
    )


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


PACE_BINS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0, 86400.0)
"""Bin widths the pace and agreement plots choose from: the narrowest that keeps them within ``max_points``."""


def dashboard_series(
    rows: Sequence[StoredJudgment],
    queries: dict[int, Query],
    metrics: Sequence[dict[str, Any]],
    now: float | None = None,
    max_points: int = 40,
) -> dict[str, Any]:
    """What the dashboard plots, JSON-safe (no nan: missing values are None).

    Args:
        rows: the store's judgments.
        queries: query id → query (gold answers, for the reliability fit).
        metrics: the run's ``metrics.jsonl`` rows, one per label round (may be empty: the app serves a store
            without a run too).
        now: the clock the time axis ends at (default: the current time; never before the last answer).
        max_points: most time bins for pace and agreement (a long session gets wider bins, see
            :data:`PACE_BINS_S`).

    Returns:
        ``curve``: per round ``step``, ``round``, ``return_true``, ``return_learned``, ``gold_accuracy`` (the reward
        model's accuracy on gold questions) and ``val_accuracy``; ``pace``: ``bin_s``, bin starts ``t`` (seconds
        since the first answer) and per annotator answers per minute in each bin (the last, still open bin over
        the time it has run so far); ``agreement``: per bin end, raw agreement and κ over every answer so far;
        ``reliability``: per annotator the one-coin Dawid–Skene estimate, its decisive and gold answers.
    """
    curve = [
        {"step": m.get("step"), "round": m.get("round"), "return_true": _finite(m.get("policy/return_true")),
         "return_learned": _finite(m.get("policy/return_learned")),
         "gold_accuracy": _finite(m.get("reward_model/gold_accuracy")),
         "val_accuracy": _finite(m.get("reward_model/val_accuracy"))}
        for m in metrics
    ]
    current = sorted((r for r in current_judgments(rows) if r.judgment.annotator.startswith("human:")),
                     key=lambda r: r.judgment.created)
    pace: dict[str, Any] = {"bin_s": PACE_BINS_S[0], "t": [], "per_minute": {}}
    agreement: list[dict[str, Any]] = []
    if current:
        start = current[0].judgment.created
        span = max(time.time() if now is None else now, current[-1].judgment.created) - start
        bin_s = next((b for b in PACE_BINS_S if span / b <= max_points), PACE_BINS_S[-1])
        n_bins = max(1, math.ceil(span / bin_s))
        last_s = max(span - (n_bins - 1) * bin_s, 1.0)  # the open bin has run this long
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * n_bins)
        for r in current:
            counts[r.judgment.annotator][min(int((r.judgment.created - start) // bin_s), n_bins - 1)] += 1
        widths = [bin_s] * (n_bins - 1) + [last_s]
        pace = {"bin_s": bin_s, "t": [k * bin_s for k in range(n_bins)],
                "per_minute": {a: [c * 60.0 / w for c, w in zip(cs, widths)] for a, cs in sorted(counts.items())}}
        upto = 0
        for k in range(n_bins):
            edge = min((k + 1) * bin_s, span)
            while upto < len(current) and current[upto].judgment.created - start <= edge:
                upto += 1
            report = agreement_report(current[:upto])
            agreement.append({"t": edge, "raw": _finite(report.raw), "kappa": _finite(report.kappa),
                              "shared": report.units})
    fit = fit_reliability(current, queries)
    reliability = [{"annotator": a, "reliability": p, "answers": fit.answers[a], "gold_answers": fit.gold_answers[a]}
                   for a, p in sorted(fit.reliability.items())]
    return {"curve": curve, "pace": pace, "agreement": agreement, "reliability": reliability}
