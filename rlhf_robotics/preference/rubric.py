"""Rubrics: named, weighted criteria over an item. One rubric serves the UI questions, a synthetic teacher's
score and the LM track's rewards. A weight of 0 means the criterion is logged and asked, not optimised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Criterion:
    """One question about an item, answered by a function of it."""

    name: str
    """Short identifier, used as the key in judgments and logs."""
    fn: Callable[[Any], float]
    """Maps an item to a float (higher = better)."""
    weight: float = 1.0
    """Weight in the rubric score; 0 = logged, not optimised."""
    question: str = ""
    """The question a person sees in the labelling app."""


class Rubric:
    """Weighted sum of criteria. ``score(item) = Σ_k w_k · c_k(item)``."""

    def __init__(self, criteria: Sequence[Criterion]) -> None:
        names = [c.name for c in criteria]
        if len(set(names)) != len(names):
            raise ValueError(f"criterion names must be unique, got {names}")
        if not criteria:
            raise ValueError("a rubric needs at least one criterion")
        self.criteria = tuple(criteria)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)

    def terms(self, item: Any) -> dict[str, float]:
        """Every criterion's raw value for ``item``."""
        return {c.name: float(c.fn(item)) for c in self.criteria}

    def score(self, item: Any) -> float:
        """Weighted sum of the criteria."""
        return sum(c.weight * float(c.fn(item)) for c in self.criteria if c.weight != 0)

    def weighted(self, weights: Mapping[str, float]) -> Rubric:
        """The same criteria with some weights replaced (names must exist)."""
        unknown = set(weights) - set(self.names)
        if unknown:
            raise ValueError(f"unknown criteria {sorted(unknown)}; this rubric has {list(self.names)}")
        return Rubric([Criterion(c.name, c.fn, weights.get(c.name, c.weight), c.question) for c in self.criteria])
