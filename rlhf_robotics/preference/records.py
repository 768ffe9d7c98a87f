"""Records of the preference core: items, queries, judgments, and what each answer means for training.

A *judgment* is one answer by one annotator to one *query* (an ordered pair of item ids). Judgments are
append-only; an edit or an undo is a new row that names the row it supersedes. How several judgments of one
query become one training target is decided in exactly one place: :func:`aggregate_targets`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Label = Literal["first", "second", "tie", "cant_tell", "skip"]
"""The five answers. ``tie`` means "equally good" (target 0.5); ``cant_tell`` means "incomparable or unclear"
and ``skip`` means "no answer"; both are kept for analytics but stay out of the loss."""

LABELS: tuple[str, ...] = get_args(Label)

# P(first ≻ second) that each answer asks the model to predict; None = not a training signal.
LABEL_TARGET: dict[str, float | None] = {
    "first": 1.0,
    "second": 0.0,
    "tie": 0.5,
    "cant_tell": None,
    "skip": None,
}

MIRROR_LABEL: dict[str, str] = {"first": "second", "second": "first", "tie": "tie", "cant_tell": "cant_tell", "skip": "skip"}


def check_label(label: str) -> Label:
    """Return ``label`` if it is one of :data:`LABELS`, else raise a ``ValueError`` that lists them."""
    if label not in LABEL_TARGET:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    return label  # type: ignore[return-value]


@dataclass(frozen=True)
class Query:
    """An ordered pair of items to compare, as chosen by a selector.

    ``first`` and ``second`` are item ids in the track's own item store (segment ids in robotics,
    response ids in the LM track).
    """

    first: str
    """Id of the item asked about first."""
    second: str
    """Id of the item asked about second."""
    selector: str = "uniform"
    """Name of the selection rule that chose the pair."""
    score: float = 0.0
    """The selector's score (higher = more informative)."""
    priority: float = 0.0
    """Serving priority for human annotators (higher first)."""
    gold_label: str | None = None
    """For gold questions: the answer the hidden objective gives; never shown to annotators."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free JSON-serialisable extras (round, true returns, track)."""

    def __post_init__(self) -> None:
        if self.first == self.second:
            raise ValueError(f"a query compares two different items, got first == second == {self.first!r}")
        if self.gold_label is not None:
            check_label(self.gold_label)


@dataclass(frozen=True)
class Judgment:
    """One answer by one annotator to one query. Never edited in place; see ``supersedes``."""

    query_id: int
    """Id of the query in the store."""
    label: Label
    """The answer, relative to the query's (first, second) order, whatever side was shown left."""
    annotator: str
    """Human id (``human:<name>``) or teacher description (``teacher:oracle``)."""
    shown_left: Literal["first", "second"] | None = None
    """Which item the UI put on the left; None for synthetic teachers."""
    rubric: Mapping[str, str] = field(default_factory=dict)
    """Per-criterion answers, criterion name → label."""
    note: str = ""
    """Free-text comment."""
    seconds: float | None = None
    """Time on task in seconds."""
    supersedes: int | None = None
    """Id of an earlier judgment this one replaces (an edit); with label ``skip`` and note ``"undo"`` it is an
    undo that leaves the query unanswered."""
    created: float = 0.0
    """Unix time the answer was given."""

    def __post_init__(self) -> None:
        check_label(self.label)
        if self.shown_left not in (None, "first", "second"):
            raise ValueError(f"shown_left must be 'first', 'second' or None, got {self.shown_left!r}")
        for name, answer in self.rubric.items():
            try:
                check_label(answer)
            except ValueError as err:
                raise ValueError(f"rubric answer for criterion {name!r}: {err}") from None
        if self.seconds is not None and (not math.isfinite(self.seconds) or self.seconds < 0):
            raise ValueError(f"seconds must be a finite non-negative number, got {self.seconds!r}")

    @property
    def target(self) -> float | None:
        """P(first ≻ second) this judgment asks for, or None if it stays out of the loss."""
        return LABEL_TARGET[self.label]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Judgment:
        return cls(**{**row, "rubric": dict(row.get("rubric") or {})})


def dumps(obj: Any) -> str:
    """Canonical JSON used for every stored blob (sorted keys, so round-trips compare equal)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class StoredJudgment:
    """A judgment with the id the store gave it."""

    id: int
    judgment: Judgment


def current_judgments(rows: Iterable[StoredJudgment]) -> list[StoredJudgment]:
    """Drop every judgment that a later row supersedes (edits and undos), keeping store order."""
    rows = list(rows)
    replaced = {r.judgment.supersedes for r in rows if r.judgment.supersedes is not None}
    return [r for r in rows if r.id not in replaced and not _is_undo(r)]


def _is_undo(row: StoredJudgment) -> bool:
    return row.judgment.supersedes is not None and row.judgment.label == "skip" and row.judgment.note == "undo"


def aggregate_targets(rows: Iterable[StoredJudgment]) -> dict[int, float]:
    """The single place where judgments of a query become one training target.

    Rule: take the current (non-superseded) judgments of each query, drop ``cant_tell`` and ``skip``, and
    average the targets of the rest (first = 1, second = 0, tie = 0.5). A query whose judgments are all
    ``cant_tell``/``skip`` gets no target. With one annotator per query this is just that answer's target.

    Returns:
        query id → P(first ≻ second).
    """
    sums: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for row in current_judgments(rows):
        target = row.judgment.target
        if target is None:
            continue
        sums[row.judgment.query_id] += target
        counts[row.judgment.query_id] += 1
    return {qid: sums[qid] / counts[qid] for qid in sums}
