"""Label semantics, record validation and the one place where judgments become training targets."""

from __future__ import annotations

import pytest

from rlhf_robotics.preference.records import (
    LABEL_TARGET,
    LABELS,
    Judgment,
    Query,
    StoredJudgment,
    aggregate_targets,
    check_label,
    current_judgments,
)


def row(id: int, query_id: int, label: str, supersedes: int | None = None, note: str = "") -> StoredJudgment:
    return StoredJudgment(id, Judgment(query_id, label, "human:ann", supersedes=supersedes, note=note))  # type: ignore[arg-type]


def test_the_five_labels_and_their_targets() -> None:
    assert set(LABELS) == {"first", "second", "tie", "cant_tell", "skip"}
    expected = {"first": 1.0, "second": 0.0, "tie": 0.5, "cant_tell": None, "skip": None}
    assert LABEL_TARGET == expected
    for label, target in expected.items():
        assert Judgment(1, label, "human:a").target == target  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["First", "left", "", "equal"])
def test_bad_label_raises_naming_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad)):
        Judgment(1, bad, "human:a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=repr(bad)):
        check_label(bad)
    with pytest.raises(ValueError, match=repr(bad)):
        Query("a", "b", gold_label=bad)


def test_bad_rubric_answer_names_the_criterion_and_value() -> None:
    with pytest.raises(ValueError, match=r"'height'.*'better'"):
        Judgment(1, "first", "human:a", rubric={"height": "better"})


@pytest.mark.parametrize(
    "kw", [{"shown_left": "middle"}, {"seconds": -1.0}, {"seconds": float("nan")}]
)
def test_other_bad_judgment_fields_raise(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        Judgment(1, "first", "human:a", **kw)  # type: ignore[arg-type]


def test_a_query_compares_two_different_items() -> None:
    with pytest.raises(ValueError, match="'seg-3'"):
        Query("seg-3", "seg-3")


def test_judgment_json_round_trip() -> None:
    j = Judgment(4, "tie", "human:b", shown_left="second", rubric={"speed": "first"}, note="close", seconds=3.5,
                 supersedes=2, created=1700000000.25)
    assert Judgment.from_json(j.to_json()) == j


def test_several_judgments_of_a_query_are_averaged() -> None:
    rows = [row(1, 10, "first"), row(2, 10, "second"), row(3, 10, "tie"),  # (1 + 0 + 0.5) / 3 = 0.5
            row(4, 11, "first"), row(5, 11, "tie"),                        # (1 + 0.5) / 2 = 0.75
            row(6, 12, "second")]                                          # 0
    assert aggregate_targets(rows) == {10: 0.5, 11: 0.75, 12: 0.0}


def test_cant_tell_and_skip_are_excluded_from_targets_but_kept() -> None:
    rows = [row(1, 10, "first"), row(2, 10, "cant_tell"), row(3, 10, "skip"), row(4, 10, "first"),
            row(5, 11, "cant_tell"), row(6, 12, "skip")]
    # Query 10 averages only its two "first" answers; 11 and 12 have no training target at all.
    assert aggregate_targets(rows) == {10: 1.0}
    # ... but every answer is still a current judgment for the analytics.
    assert [r.id for r in current_judgments(rows)] == [1, 2, 3, 4, 5, 6]


def test_an_edit_supersedes_the_earlier_answer() -> None:
    rows = [row(1, 10, "first"), row(2, 11, "first"), row(3, 10, "second", supersedes=1)]
    assert aggregate_targets(rows) == {10: 0.0, 11: 1.0}
    assert [r.id for r in current_judgments(rows)] == [2, 3]


def test_a_chain_of_edits_keeps_only_the_last() -> None:
    rows = [row(1, 10, "first"), row(2, 10, "tie", supersedes=1), row(3, 10, "second", supersedes=2)]
    assert aggregate_targets(rows) == {10: 0.0}
    assert [r.id for r in current_judgments(rows)] == [3]


def test_an_edit_only_replaces_its_own_row() -> None:
    # Two annotators answered query 10; the second one edits to "tie": (1 + 0.5) / 2.
    rows = [row(1, 10, "first"), row(2, 10, "second"), row(3, 10, "tie", supersedes=2)]
    assert aggregate_targets(rows) == {10: 0.75}


def test_undo_removes_the_answer_and_itself() -> None:
    rows = [row(1, 10, "first"), row(2, 10, "second"), row(3, 10, "skip", supersedes=2, note="undo")]
    assert aggregate_targets(rows) == {10: 1.0}
    assert [r.id for r in current_judgments(rows)] == [1]


def test_editing_to_skip_without_undo_keeps_a_skip() -> None:
    rows = [row(1, 10, "first"), row(2, 10, "skip", supersedes=1)]
    assert aggregate_targets(rows) == {}
    assert [r.judgment.label for r in current_judgments(rows)] == ["skip"]


def test_undo_then_re_answer_keeps_only_the_re_answer() -> None:
    # The labelling app's flow: answer (1), undo row superseding it (2), re-answer superseding the undo row (3).
    rows = [row(1, 10, "first"), row(2, 10, "skip", supersedes=1, note="undo"), row(3, 10, "tie", supersedes=2)]
    assert aggregate_targets(rows) == {10: 0.5}
    assert [r.id for r in current_judgments(rows)] == [3]
