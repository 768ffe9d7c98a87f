"""Text items in the store: immutable payloads by id, the upgrade of old stores that kept texts in
``Query.meta["texts"]``, and the lossless JSONL round trip with items."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rlhf_robotics.preference.export import export_run, import_jsonl
from rlhf_robotics.preference.items import ItemPayloads, TextItem, text_comparisons
from rlhf_robotics.preference.records import Judgment, Query, dumps
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import SCHEMA_VERSION, PreferenceStore


def test_items_are_stored_once_and_never_change(tmp_path: Path) -> None:
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        items = [TextItem("a", "2+2=", "4", {"gold": 1.0}), TextItem("b", "2+2=", "5")]
        assert store.add_items(items) == 2
        assert store.add_items(items) == 0, "adding the same items again is harmless"
        with pytest.raises(ValueError, match="'a' is already stored with another text.*new id"):
            store.add_items([TextItem("a", "2+2=", "four")])
        assert store.get_items(["b", "a"]) == [items[1], items[0]]
        assert store.find_items(["a", "seg-7"]) == {"a": items[0]}, "ids of other item kinds are left out"
        with pytest.raises(KeyError, match="seg-7"):
            store.get_items(["a", "seg-7"])
        assert store.payloads(["b"]) == [{"prompt": "2+2=", "response": "5"}]
        assert isinstance(store, ItemPayloads)
    with pytest.raises(ValueError, match="non-empty string"):
        TextItem("", "p", "r")


def test_text_comparisons_aggregate_and_skip_unlabelled_and_robot_pairs(tmp_path: Path) -> None:
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        store.add_items([TextItem(f"t{i}", f"p{i // 2}", f"r{i}") for i in range(6)])
        q = store.add_queries([Query("t0", "t1"), Query("t2", "t3"), Query("t4", "t5"), Query("seg-0", "seg-1")])
        store.add_judgments([Judgment(q[0], "first", "human:a"), Judgment(q[0], "tie", "human:b"),
                             Judgment(q[1], "cant_tell", "human:a"), Judgment(q[3], "second", "human:a")])
        rows = text_comparisons(store)
    assert [(qid, a.id, b.id, t) for qid, a, b, t in rows] == [(q[0], "t0", "t1", 0.75)]


def _v1_store(path: Path, queries: list[tuple[str, str, dict[str, object]]]) -> None:
    """A store as the code before schema 2 left it: no item table, LM texts in the query's meta."""
    PreferenceStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE items")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
        for first, second, meta in queries:
            db.execute("INSERT INTO queries (first, second, selector, score, priority, gold_label, meta, created) "
                       "VALUES (?, ?, 'uniform', 0, 0, NULL, ?, 1.0)", (first, second, dumps(meta)))
        db.execute("INSERT INTO judgments (query_id, label, annotator, shown_left, rubric, note, seconds, supersedes, "
                   "created) VALUES (1, 'second', 'teacher:oracle', NULL, '{}', '', NULL, NULL, 1.0)")
    db.close()


def test_an_old_store_with_texts_in_meta_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    texts = {"prompt": "1+1=", "first": "2", "second": "3"}
    _v1_store(path, [("lm-0-a", "lm-0-b", {"track": "lm", "texts": texts}), ("seg-0", "seg-1", {"round": 0})])
    with PreferenceStore(path) as store:
        assert [i.to_json() for i in store.text_items()] == [
            {"id": "lm-0-a", "prompt": "1+1=", "response": "2", "meta": {}},
            {"id": "lm-0-b", "prompt": "1+1=", "response": "3", "meta": {}}]
        assert store.query(1).meta["texts"] == texts, "the queries are left as they were written"
        [(_, first, second, target)] = text_comparisons(store)
        assert (first.response, second.response, target) == ("2", "3", 0.0)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    db.close()
    with PreferenceStore(path) as store:  # opening again changes nothing
        assert store.count_items() == 2


def test_an_old_style_writer_still_gets_its_texts_stored_as_items(tmp_path: Path) -> None:
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        store.add_queries([Query("x", "y", meta={"texts": {"prompt": "p", "first": "left", "second": "right"}})])
        assert store.payloads(["y", "x"]) == [{"prompt": "p", "response": "right"}, {"prompt": "p", "response": "left"}]


def test_a_store_export_imported_into_an_empty_run_round_trips(tmp_path: Path) -> None:
    run, copy = tmp_path / "run", tmp_path / "copy"
    with PreferenceStore(RunPaths(run).store) as store:
        store.add_items([TextItem("a", "p", "α", {"task": "sort", "gold": 0.5}), TextItem("b", "p", "β")])
        q = store.add_queries([Query("a", "b", selector="disagreement", score=0.3, meta={"round": 1}),
                               Query("seg-0", "seg-1", gold_label="first")])
        j = store.add_judgment(Judgment(q[0], "first", "human:ann", shown_left="second", rubric={"c": "tie"}, seconds=2.5))
        store.add_judgment(Judgment(q[0], "second", "human:ann", supersedes=j, note="changed my mind"))
        store.add_judgment(Judgment(q[1], "skip", "human:bob"))
    out = tmp_path / "store.jsonl"
    assert export_run(run, out, "store") == 1 + 2 + 2 + 3
    assert import_jsonl(copy, out) == 3
    with PreferenceStore(RunPaths(run).store) as a, PreferenceStore(RunPaths(copy).store) as b:
        assert b.queries() == a.queries() and b.judgments() == a.judgments() and b.text_items() == a.text_items()
    export_run(copy, tmp_path / "again.jsonl", "store")
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()
    with pytest.raises(ValueError, match="needs an empty store"):
        import_jsonl(copy, out)


def test_a_version_1_export_imports_with_its_texts_as_items(tmp_path: Path) -> None:
    lines = [{"kind": "meta", "schema_version": 1},
             {"kind": "query", "id": 1, "first": "a", "second": "b", "selector": "uniform", "score": 0.0,
              "priority": 0.0, "gold_label": None, "created": 1.0,
              "meta": {"texts": {"prompt": "p", "first": "yes", "second": "no"}}},
             {"kind": "judgment", "id": 1, "query_id": 1, "label": "first", "annotator": "human:a", "shown_left": None,
              "rubric": {}, "note": "", "seconds": None, "supersedes": None, "created": 2.0}]
    path = tmp_path / "v1.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert import_jsonl(tmp_path / "run", path) == 1
    with PreferenceStore(RunPaths(tmp_path / "run").store) as store:
        assert [i.response for i in store.get_items(["a", "b"])] == ["yes", "no"]
    path.write_text(json.dumps({"kind": "meta", "schema_version": 9}) + "\n")
    with pytest.raises(ValueError, match="schema version 9 is not one of 1, 2"):
        import_jsonl(tmp_path / "other", path)
