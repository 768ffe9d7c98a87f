"""The preference store: queries and append-only judgments in SQLite (WAL mode).

Writers (teachers, the labelling app) append; readers (the reward trainer) follow a monotonically increasing
id cursor, so labels can arrive while training runs. Nothing is ever updated or deleted: an edit or an undo
is a new judgment that names the row it supersedes. :meth:`PreferenceStore.export_jsonl` and
:meth:`PreferenceStore.import_jsonl` round-trip the whole store losslessly, ids included.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_robotics.preference.records import Judgment, Query, StoredJudgment, dumps

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first TEXT NOT NULL,
    second TEXT NOT NULL,
    selector TEXT NOT NULL,
    score REAL NOT NULL,
    priority REAL NOT NULL,
    gold_label TEXT,
    meta TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS judgments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id INTEGER NOT NULL REFERENCES queries(id),
    label TEXT NOT NULL,
    annotator TEXT NOT NULL,
    shown_left TEXT,
    rubric TEXT NOT NULL,
    note TEXT NOT NULL,
    seconds REAL,
    supersedes INTEGER REFERENCES judgments(id),
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS judgments_query ON judgments(query_id);
"""

_QUERY_COLUMNS = ("first", "second", "selector", "score", "priority", "gold_label", "meta")
_JUDGMENT_COLUMNS = ("query_id", "label", "annotator", "shown_left", "rubric", "note", "seconds", "supersedes", "created")


@dataclass(frozen=True)
class StoredQuery:
    """A query with the id the store gave it."""

    id: int
    query: Query


class PreferenceStore:
    """SQLite-backed store of queries and judgments.

    One instance may be shared by threads (calls are serialised by a lock); separate processes open their own
    instance on the same path and see each other's commits (WAL mode allows one writer and many readers).

    Args:
        path: database file, created if missing; ``":memory:"`` for a throwaway store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        version = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is None:
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) != SCHEMA_VERSION:
            raise ValueError(
                f"store {self.path} has schema version {version[0]}, this code reads version {SCHEMA_VERSION}; "
                "export it with the version that wrote it and import the JSONL here"
            )

    # -- writing -------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    def add_queries(self, queries: Sequence[Query]) -> list[int]:
        """Append queries in one transaction; returns their ids in order."""
        now = time.time()
        ids = []
        with self._transaction() as cur:
            for q in queries:
                cur.execute(
                    "INSERT INTO queries (first, second, selector, score, priority, gold_label, meta, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (q.first, q.second, q.selector, float(q.score), float(q.priority), q.gold_label, dumps(dict(q.meta)), now),
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def add_judgments(self, judgments: Sequence[Judgment]) -> list[int]:
        """Append judgments in one transaction; returns their ids. All or none are stored.

        Raises:
            ValueError: a judgment names a query or a superseded judgment that does not exist, or supersedes
                a judgment of another query.
        """
        now = time.time()
        ids = []
        with self._transaction() as cur:
            for j in judgments:
                if cur.execute("SELECT 1 FROM queries WHERE id=?", (j.query_id,)).fetchone() is None:
                    raise ValueError(f"judgment names query {j.query_id}, which is not in the store {self.path}")
                if j.supersedes is not None:
                    row = cur.execute("SELECT query_id FROM judgments WHERE id=?", (j.supersedes,)).fetchone()
                    if row is None or row[0] != j.query_id:
                        raise ValueError(
                            f"judgment supersedes {j.supersedes}, which is not a judgment of query {j.query_id}"
                        )
                cur.execute(
                    "INSERT INTO judgments (query_id, label, annotator, shown_left, rubric, note, seconds, supersedes, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (j.query_id, j.label, j.annotator, j.shown_left, dumps(dict(j.rubric)), j.note, j.seconds,
                     j.supersedes, j.created or now),
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def add_judgment(self, judgment: Judgment) -> int:
        return self.add_judgments([judgment])[0]

    # -- reading -------------------------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def query(self, query_id: int) -> Query:
        rows = self._read(f"SELECT {', '.join(_QUERY_COLUMNS)} FROM queries WHERE id=?", (query_id,))
        if not rows:
            raise KeyError(f"no query with id {query_id} in {self.path}")
        return _row_to_query(rows[0])

    def queries(self, after: int = 0) -> list[StoredQuery]:
        """All queries with id > ``after``, in id order."""
        rows = self._read(f"SELECT id, {', '.join(_QUERY_COLUMNS)} FROM queries WHERE id>? ORDER BY id", (after,))
        return [StoredQuery(r[0], _row_to_query(r[1:])) for r in rows]

    def judgments(self, after: int = 0) -> list[StoredJudgment]:
        """All judgments with id > ``after``, in id order (the reader's cursor)."""
        rows = self._read(f"SELECT id, {', '.join(_JUDGMENT_COLUMNS)} FROM judgments WHERE id>? ORDER BY id", (after,))
        return [StoredJudgment(r[0], _row_to_judgment(r[1:])) for r in rows]

    def count_judgments(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM judgments")[0][0])

    def count_queries(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM queries")[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PreferenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- JSONL ---------------------------------------------------------------------------------------------
    def export_jsonl(self, path: str | Path) -> int:
        """Write every query and judgment, ids included, one JSON object a line. Returns the line count."""
        lines: list[dict[str, Any]] = [{"kind": "meta", "schema_version": SCHEMA_VERSION}]
        for r in self._read(f"SELECT id, {', '.join(_QUERY_COLUMNS)}, created FROM queries ORDER BY id"):
            q = _row_to_query(r[1:8])
            lines.append({"kind": "query", "id": r[0], **_query_json(q), "created": r[8]})
        for sj in self.judgments():
            lines.append({"kind": "judgment", "id": sj.id, **sj.judgment.to_json()})
        with open(path, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(dumps(line) + "\n")
        return len(lines)

    def import_jsonl(self, path: str | Path) -> int:
        """Load an export into this store, keeping ids. The store must be empty (so nothing is overwritten).

        Returns:
            The number of judgments imported.
        """
        if self.count_queries() or self.count_judgments():
            raise ValueError(f"import_jsonl needs an empty store, but {self.path} already holds data; import into a new file")
        n = 0
        with open(path, encoding="utf-8") as f, self._transaction() as cur:
            for lineno, text in enumerate(f, 1):
                if not text.strip():
                    continue
                row = json.loads(text)
                kind = row.pop("kind", None)
                if kind == "meta":
                    if row.get("schema_version") != SCHEMA_VERSION:
                        raise ValueError(f"{path}:{lineno}: schema version {row.get('schema_version')} is not {SCHEMA_VERSION}")
                elif kind == "query":
                    qid, created = row.pop("id"), row.pop("created")
                    q = Query(**row)
                    cur.execute(
                        "INSERT INTO queries (id, first, second, selector, score, priority, gold_label, meta, created) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (qid, q.first, q.second, q.selector, q.score, q.priority, q.gold_label, dumps(dict(q.meta)), created),
                    )
                elif kind == "judgment":
                    jid = row.pop("id")
                    j = Judgment.from_json(row)
                    cur.execute(
                        "INSERT INTO judgments (id, query_id, label, annotator, shown_left, rubric, note, seconds, supersedes, created) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (jid, j.query_id, j.label, j.annotator, j.shown_left, dumps(dict(j.rubric)), j.note, j.seconds,
                         j.supersedes, j.created),
                    )
                    n += 1
                else:
                    raise ValueError(f"{path}:{lineno}: unknown line kind {kind!r}; expected meta, query or judgment")
        return n


def _query_json(q: Query) -> dict[str, Any]:
    return {"first": q.first, "second": q.second, "selector": q.selector, "score": q.score, "priority": q.priority,
            "gold_label": q.gold_label, "meta": dict(q.meta)}


def _row_to_query(r: tuple[Any, ...]) -> Query:
    first, second, selector, score, priority, gold, meta = r
    return Query(first, second, selector, score, priority, gold, json.loads(meta))


def _row_to_judgment(r: tuple[Any, ...]) -> Judgment:
    query_id, label, annotator, shown_left, rubric, note, seconds, supersedes, created = r
    return Judgment(query_id, label, annotator, shown_left, json.loads(rubric), note, seconds, supersedes, created)
