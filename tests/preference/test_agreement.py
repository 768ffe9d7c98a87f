"""Agreement metrics against values computed by hand and Krippendorff's published example."""

from __future__ import annotations

import math

import pytest

from rlhf_robotics.preference.agreement import (
    agreement_report,
    cohens_kappa,
    krippendorff_alpha,
    raw_agreement,
)
from rlhf_robotics.preference.records import Judgment, StoredJudgment


def test_raw_agreement_counts_matching_units() -> None:
    assert raw_agreement(["first", "tie", "second"], ["first", "second", "second"]) == pytest.approx(2 / 3)
    assert math.isnan(raw_agreement([], []))
    with pytest.raises(ValueError, match="same units"):
        raw_agreement(["first"], [])


def test_cohens_kappa_textbook_table() -> None:
    # 50 units: yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.4)


def test_cohens_kappa_perfect_and_undefined() -> None:
    assert cohens_kappa(["first", "second"], ["first", "second"]) == pytest.approx(1.0)
    # Both always answer "first": p_e = 1, κ undefined.
    assert math.isnan(cohens_kappa(["first"] * 3, ["first"] * 3))


def test_krippendorff_alpha_small_cases_by_hand() -> None:
    # o = [[2, 1], [1, 0]], n = (3, 1): D_o ∝ 2, D_e ∝ (16 − 10) / 3 = 2, α = 0.
    assert krippendorff_alpha([["a", "a"], ["a", "b"]]) == pytest.approx(0.0)
    assert krippendorff_alpha([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)
    # o_ab = o_ba = 2, n = (2, 2): α = 1 − 4 · 3 / 8 = −0.5.
    assert krippendorff_alpha([["a", "b"], ["a", "b"]]) == pytest.approx(-0.5)
    # Units with one answer are not pairable.
    assert math.isnan(krippendorff_alpha([["a"], ["b"]]))


def test_krippendorff_alpha_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", 4 coders × 12 units, nominal α = 0.743.
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[v for v in column if v is not None] for column in zip(*coders, strict=True)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def _rows(answers: list[tuple[int, str, str]]) -> list[StoredJudgment]:
    return [StoredJudgment(i + 1, Judgment(q, label, who)) for i, (q, who, label) in enumerate(answers)]


def test_agreement_report_per_annotator_and_overall() -> None:
    rows = _rows(
        [
            (1, "ann", "first"), (1, "bob", "first"),
            (2, "ann", "second"), (2, "bob", "first"),
            (3, "ann", "tie"), (3, "bob", "tie"), (3, "cat", "tie"),
            (4, "ann", "skip"), (4, "bob", "first"),  # a skip is no answer: query 4 is not shared
            (5, "cat", "second"),
        ]
    )
    report = agreement_report(rows, min_shared=2)
    # Pairs: q1 ann-bob ✓, q2 ann-bob ✗, q3 ann-bob ✓, ann-cat ✓, bob-cat ✓ → 4 / 5.
    assert report.raw == pytest.approx(0.8)
    assert report.units == 3
    by = {a.annotator: a for a in report.per_annotator}
    assert by["ann"].answers == 3 and by["ann"].shared == 3
    assert by["ann"].raw == pytest.approx(3 / 4)
    assert by["cat"].raw == pytest.approx(1.0)
    # ann vs bob over q1..q3: ann (first, second, tie), bob (first, first, tie): p_o = 2/3,
    # p_e = (1/3)(2/3) + (1/3)(0) + (1/3)(1/3) = 1/3, κ = (2/3 − 1/3) / (2/3) = 0.5. Other pairs share one query.
    assert by["ann"].kappa == pytest.approx(0.5)
    assert report.kappa == pytest.approx(0.5)
    assert math.isnan(by["cat"].kappa)
    # α over units {f,f}, {s,f}, {t,t,t}: o_ff = 2, o_fs = o_sf = 1, o_tt = 3; n = (3, 1, 3), total 7.
    # D_o ∝ 2, D_e ∝ (49 − 9 − 1 − 9) / 6 = 5, α = 1 − 2/5 = 0.6.
    assert report.alpha == pytest.approx(0.6)


def test_agreement_report_uses_current_judgments() -> None:
    rows = _rows([(1, "ann", "first"), (1, "bob", "second")])
    undo = StoredJudgment(3, Judgment(1, "skip", "bob", note="undo", supersedes=2))
    redo = StoredJudgment(4, Judgment(1, "first", "bob", supersedes=3))
    report = agreement_report([*rows, undo, redo])
    assert report.raw == pytest.approx(1.0)
