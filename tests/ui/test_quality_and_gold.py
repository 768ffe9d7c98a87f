"""Gold pairs from true returns and the dashboard's quality numbers, checked against hand counts."""

from __future__ import annotations

import math
import random

import pytest

from rlhf_robotics.preference.records import Judgment, Query, StoredJudgment
from rlhf_robotics.ui.gold import gold_pairs
from rlhf_robotics.ui.quality import chose_left, quality_report


def test_gold_pairs_respect_the_gap_and_exclusions() -> None:
    returns = {"a": 0.0, "b": 0.1, "c": 5.0, "d": 5.2}  # std ≈ 2.55: only (a|b) × (c|d) qualify at 1 std
    pairs = gold_pairs(returns, count=10, min_gap_std=1.0, rng=random.Random(0), exclude={frozenset("ac")})
    assert {frozenset(p) for p in pairs} == {frozenset("ad"), frozenset("bc"), frozenset("bd")}
    assert gold_pairs(returns, 10, 1.0, random.Random(0), set())[:1] != []
    assert gold_pairs({"a": 1.0}, 5, 1.0, random.Random(0), set()) == []
    with pytest.raises(ValueError, match="min_gap_std"):
        gold_pairs(returns, 1, -1.0, random.Random(0), set())


def test_chose_left() -> None:
    assert chose_left("first", "first") is True and chose_left("second", "first") is False
    assert chose_left("tie", "first") is None and chose_left("first", None) is None


def test_quality_report_by_hand() -> None:
    queries = {1: Query("x", "y"), 2: Query("u", "v", gold_label="first"), 3: Query("p", "q", gold_label="second")}
    rows = [
        Judgment(1, "first", "human:ann", "first", seconds=2.0, created=1000.0),   # chose left
        Judgment(2, "first", "human:ann", "second", seconds=4.0, created=1000.0),  # gold ✓, chose right
        Judgment(3, "first", "human:ann", "first", seconds=6.0, created=1000.0),   # gold ✗, chose left
        Judgment(1, "second", "human:ann", "second", seconds=1.0, created=5000.0),  # repeat, inconsistent, left
        Judgment(1, "first", "teacher:oracle"),                                      # not a person: ignored
    ]
    report = quality_report([StoredJudgment(i + 1, j) for i, j in enumerate(rows)], queries, now=5000.0)
    (ann,) = report.per_annotator
    assert ann.judgments == 4 and ann.per_hour_last_hour == 1 and ann.median_seconds == 3.0
    assert ann.gold_answered == 2 and ann.gold_accuracy == 0.5
    assert ann.repeats == 1 and ann.self_consistency == 0.0
    assert ann.left_rate == 0.75 and ann.left_z == pytest.approx((3 - 2) / 1.0)
    assert math.isnan(report.agreement_alpha) and report.to_json()["agreement_alpha"] is None
