"""The preference store: queries, append-only judgments and the LM track's text items in SQLite (WAL mode).

Writers (teachers, the labelling app) append; readers (the reward trainer) follow a monotonically increasing
id cursor, so labels can arrive while training runs. Nothing is ever updated or deleted: an edit or an undo
is a new judgment that names the row it supersedes, and an item, once stored, keeps its payload.
:meth:`PreferenceStore.export_jsonl` and :meth:`PreferenceStore.import_jsonl` round-trip the whole store
losslessly, ids included.

Schema versions: 1 had no item table (LM texts rode in ``Query.meta["texts"]``); 2 adds ``items``. Opening a
version-1 file upgrades it in place, once, in one transaction: the table is created and the texts of every
old-style query are copied into it (:func:`~rlhf_robotics.preference.items.legacy_text_items`); the queries
themselves are left as written. Version-1 JSONL exports import the same way.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_robotics.preference.items import TextItem, legacy_text_items
from rlhf_robotics.preference.records import Judgment, Query, StoredJudgment, dumps

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Versions this code opens (1 is upgraded to 2 on open) and imports from JSONL."""

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
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL
);
"""

_QUERY_COLUMNS = ("first", "second", "selector", "score", "priority", "gold_label", "meta")
_ITEM_COLUMNS = ("id", "prompt", "response", "meta")
_CHUNK = 500  # ids per `IN (...)` lookup, well under SQLite's variable limit
_JUDGMENT_COLUMNS = ("query_id", "label", "annotator", "shown_left", "rubric", "note", "seconds", "supersedes", "created")


@dataclass(frozen=True)
class StoredQuery:
    """A query with the id the store gave it."""

    id: int
    query: Query


_BUSY_TIMEOUT_S = 30.0


def retry_while_locked(statement: Callable[[], object], path: str, timeout_s: float = _BUSY_TIMEOUT_S) -> None:
    """Run ``statement``, retrying while another connection holds the database locked.

    SQLite answers "database is locked" at once, without waiting out the busy timeout, when a connection that
    opens a fresh store switches it to WAL (or creates its tables) while another connection is doing the same:
    the lock upgrade would deadlock, so one side is refused. The labelling app, the loop and people's threads
    all open the same store, so the refused side waits and tries again rather than failing.
    """
    deadline, delay = time.monotonic() + timeout_s, 0.005
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError(
                    f"database {path} stayed locked by another connection for {timeout_s:.0f} s while opening; close "
                    "the process holding it (or its unfinished transaction) and open it again"
                ) from e
            time.sleep(delay)
            delay = min(2 * delay, 0.25)


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
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        retry_while_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), self.path)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        retry_while_locked(lambda: self._conn.executescript(_SCHEMA), self.path)
        version = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is None:
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) not in READABLE_VERSIONS:
            raise ValueError(
                f"store {self.path} has schema version {version[0]}, this code reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}; export it with the version that wrote it and import the "
                "JSONL here"
            )
        elif int(version[0]) < SCHEMA_VERSION:
            self._upgrade()

    def _upgrade(self) -> None:
        """Version 1 → 2: copy the texts of old-style queries into the item table (once; see the module doc)."""
        with self._transaction() as cur:
            version = cur.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if int(version[0]) >= SCHEMA_VERSION:
                return  # another process upgraded it while this one waited for the lock
            self._copy_legacy_texts(cur)
            cur.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    @staticmethod
    def _copy_legacy_texts(cur: sqlite3.Cursor) -> None:
        """Items from every query's ``meta["texts"]``; an id already stored keeps its payload (first wins)."""
        rows = cur.execute(f"SELECT {', '.join(_QUERY_COLUMNS)} FROM queries ORDER BY id").fetchall()
        items = [item for r in rows for item in legacy_text_items(_row_to_query(r))]
        _insert_items(cur, items, time.time(), strict=False)

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
            # Old-style writers put LM texts in meta["texts"]: they go to the item table as add_items's do.
            _insert_items(cur, [item for q in queries for item in legacy_text_items(q)], now, strict=True)
            for q in queries:
                cur.execute(
                    "INSERT INTO queries (first, second, selector, score, priority, gold_label, meta, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (q.first, q.second, q.selector, float(q.score), float(q.priority), q.gold_label, dumps(dict(q.meta)), now),
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def add_items(self, items: Sequence[TextItem]) -> int:
        """Store text items in one transaction; returns how many were new.

        An item already stored with the same payload is skipped, so re-adding is harmless.

        Raises:
            ValueError: an id is already stored with a different prompt, response or meta (items never change;
                give the new text a new id).
        """
        with self._transaction() as cur:
            return _insert_items(cur, items, time.time(), strict=True)

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

    def find_items(self, ids: Sequence[str]) -> dict[str, TextItem]:
        """The stored text items among ``ids`` (ids without one, such as robot segments, are left out)."""
        found: dict[str, TextItem] = {}
        unique = list(dict.fromkeys(ids))
        for s in range(0, len(unique), _CHUNK):
            chunk = unique[s : s + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for r in self._read(f"SELECT {', '.join(_ITEM_COLUMNS)} FROM items WHERE id IN ({marks})", tuple(chunk)):
                found[r[0]] = _row_to_item(r)
        return found

    def get_items(self, ids: Sequence[str]) -> list[TextItem]:
        """The text items with these ids, in this order.

        Raises:
            KeyError: an id has no text item in this store.
        """
        found = self.find_items(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"no text items {missing[:3]} in {self.path}; add them with add_items")
        return [found[i] for i in ids]

    def text_items(self) -> list[TextItem]:
        """Every text item, in the order stored."""
        return [_row_to_item(r) for r in self._read(f"SELECT {', '.join(_ITEM_COLUMNS)} FROM items ORDER BY rowid")]

    def payloads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """``{"prompt", "response"}`` of each id (the :class:`~rlhf_robotics.preference.items.ItemPayloads` protocol)."""
        return [item.payload() for item in self.get_items(ids)]

    def count_items(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM items")[0][0])

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
        for r in self._read(f"SELECT {', '.join(_ITEM_COLUMNS)}, created FROM items ORDER BY rowid"):
            lines.append({"kind": "item", **_row_to_item(r[:4]).to_json(), "created": r[4]})
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

        Exports of schema version 1 (texts in ``meta["texts"]``) get their items as an opened version-1 file does.

        Returns:
            The number of judgments imported.
        """
        if self.count_queries() or self.count_judgments() or self.count_items():
            raise ValueError(f"import_jsonl needs an empty store, but {self.path} already holds data; import into a new file")
        n, version = 0, SCHEMA_VERSION
        with open(path, encoding="utf-8") as f, self._transaction() as cur:
            for lineno, text in enumerate(f, 1):
                if not text.strip():
                    continue
                row = json.loads(text)
                kind = row.pop("kind", None)
                if kind == "meta":
                    version = row.get("schema_version")
                    if version not in READABLE_VERSIONS:
                        raise ValueError(f"{path}:{lineno}: schema version {version} is not one of "
                                         f"{', '.join(map(str, READABLE_VERSIONS))}; import it with the version that wrote it")
                elif kind == "item":
                    created = row.pop("created")
                    _insert_items(cur, [TextItem.from_json(row)], created, strict=True)
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
                    raise ValueError(f"{path}:{lineno}: unknown line kind {kind!r}; expected meta, item, query or judgment")
            if version == 1:
                self._copy_legacy_texts(cur)
        return n


def _query_json(q: Query) -> dict[str, Any]:
    return {"first": q.first, "second": q.second, "selector": q.selector, "score": q.score, "priority": q.priority,
            "gold_label": q.gold_label, "meta": dict(q.meta)}


def _row_to_query(r: tuple[Any, ...]) -> Query:
    first, second, selector, score, priority, gold, meta = r
    return Query(first, second, selector, score, priority, gold, json.loads(meta))


def _row_to_item(r: tuple[Any, ...]) -> TextItem:
    item_id, prompt, response, meta = r
    return TextItem(item_id, prompt, response, json.loads(meta))


def _insert_items(cur: sqlite3.Cursor, items: Sequence[TextItem], created: float, strict: bool) -> int:
    """Insert ``items`` unless stored; with ``strict``, an id stored with another payload is a ``ValueError``."""
    new = 0
    for item in items:
        meta = dumps(dict(item.meta))
        row = cur.execute("SELECT prompt, response, meta FROM items WHERE id=?", (item.id,)).fetchone()
        if row is None:
            cur.execute("INSERT INTO items (id, prompt, response, meta, created) VALUES (?, ?, ?, ?, ?)",
                        (item.id, item.prompt, item.response, meta, created))
            new += 1
        elif strict and tuple(row) != (item.prompt, item.response, meta):
            raise ValueError(f"item {item.id!r} is already stored with another text; items never change, so give "
                             "the new text a new id")
    return new


def _row_to_judgment(r: tuple[Any, ...]) -> Judgment:
    query_id, label, annotator, shown_left, rubric, note, seconds, supersedes, created = r
    return Judgment(query_id, label, annotator, shown_left, json.loads(rubric), note, seconds, supersedes, created)
