"""The app serves LM pairs from the store's text items (no clips, nothing in ``Query.meta``), and still serves
pairs of an old store whose texts are in ``meta["texts"]``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rlhf_robotics.preference.items import TextItem
from rlhf_robotics.preference.records import Query, dumps
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore

from .test_app import app_client, sign_in, submit


def test_text_items_are_served_without_clips_and_answers_are_stored(tmp_path: Path) -> None:
    with PreferenceStore(RunPaths(tmp_path).store) as store:
        store.add_items([TextItem("x", "Sort 3 1 2", "1 2 3"), TextItem("y", "Sort 3 1 2", "3 2 1")])
        [qid] = store.add_queries([Query("x", "y", meta={"track": "lm"})])
    client = app_client(tmp_path)
    csrf = sign_in(client)
    [pair] = client.get("/api/next?n=2").json()["assignments"]
    assert pair["kind"] == "text" and pair["prompt"] == "Sort 3 1 2"
    assert {pair["left"]["text"], pair["right"]["text"]} == {"1 2 3", "3 2 1"}
    left_is_x = pair["left"]["text"] == "1 2 3"
    assert submit(client, csrf, pair["id"], "left").status_code == 200
    client.app.state.service.close()
    with PreferenceStore(RunPaths(tmp_path).store) as store:
        [row] = store.judgments()
    assert row.judgment.query_id == qid and row.judgment.label == ("first" if left_is_x else "second")


def test_an_old_store_with_texts_in_meta_is_served(tmp_path: Path) -> None:
    PreferenceStore(RunPaths(tmp_path).store).close()
    with sqlite3.connect(RunPaths(tmp_path).store) as db:  # schema 1: no item table, texts in the query
        db.execute("DROP TABLE items")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
        db.execute("INSERT INTO queries (first, second, selector, score, priority, gold_label, meta, created) "
                   "VALUES ('a', 'b', 'uniform', 0, 0, NULL, ?, 1.0)",
                   (dumps({"texts": {"prompt": "2+2=", "first": "4", "second": "5"}}),))
    db.close()
    client = app_client(tmp_path)
    sign_in(client)
    [pair] = client.get("/api/next?n=1").json()["assignments"]
    assert pair["prompt"] == "2+2=" and {pair["left"]["text"], pair["right"]["text"]} == {"4", "5"}
    client.app.state.service.close()
