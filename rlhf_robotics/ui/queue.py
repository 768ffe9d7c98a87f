"""The labelling queue: which annotator gets which query, on which side, and for how long.

Queries come from the preference store (posted by the running loop with priorities). An *assignment* leases one
query to one annotator with a randomised side (``shown_left``) until it is answered or the lease expires; two
annotators never hold the same query unless its overlap (``meta["overlap"]`` or :attr:`QueueConfig.overlap`)
asks for more answers. Gold questions (:mod:`rlhf_robotics.ui.gold`) and mirrored repeats of an annotator's own
earlier pairs are mixed in at configured rates, unannounced. An annotator's first :attr:`QueueConfig.practice_pairs`
pairs are gold pairs answered for practice: the answer is checked against the gold label and kept in the app's
own ``practice`` table, never as a judgment in the store. Answers become :class:`Judgment` rows in the store;
assignments, sessions and annotator tokens live in the app's own SQLite file, so the core store's schema stays
the trainer's.

That file holds no secret in the clear: tokens, session ids and CSRF values are kept as SHA-256 hashes. A session
is bound to the token that created it (or to ``"none"`` for a loopback sign-in without a token): re-keying an
annotator revokes their sessions, and a server that requires tokens refuses token-less sessions.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import hmac
import math
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rlhf_robotics.preference.records import Judgment, Query
from rlhf_robotics.preference.rundir import ClipIndex
from rlhf_robotics.preference.store import PreferenceStore, retry_while_locked
from rlhf_robotics.ui.gold import make_gold_queries

Kind = Literal["normal", "gold", "repeat", "practice"]
Side = Literal["first", "second"]
ANSWERS = ("left", "right", "tie", "cant_tell", "skip")
"""What the page sends: sides as seen, translated to first/second by the assignment's ``shown_left``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators (name TEXT PRIMARY KEY, token_sha256 TEXT UNIQUE NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    annotator TEXT NOT NULL,
    csrf_sha256 TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id INTEGER NOT NULL,
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL,
    shown_left TEXT NOT NULL,
    issued REAL NOT NULL,
    expires REAL NOT NULL,
    state TEXT NOT NULL,
    judgment_id INTEGER,
    supersedes INTEGER
);
CREATE TABLE IF NOT EXISTS practice (
    assignment_id INTEGER PRIMARY KEY,
    annotator TEXT NOT NULL,
    query_id INTEGER NOT NULL,
    answer TEXT NOT NULL,
    expected TEXT NOT NULL,
    correct INTEGER NOT NULL,
    seconds REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS consents (
    annotator TEXT NOT NULL,
    briefing_sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (annotator, briefing_sha256)
);
"""


class QueueError(Exception):
    """A request the queue refuses; ``status`` is the HTTP status the app answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class QueueConfig:
    """How the queue hands out pairs."""

    overlap: int = 1
    """Annotators per query (a query's ``meta["overlap"]`` overrides it)."""
    lease_s: float = 120.0
    """Seconds an unanswered assignment stays reserved for its annotator (rl-teacher used 2 minutes)."""
    gold_rate: float = 0.1
    """Chance that a served pair is a gold question the annotator has not seen (0 = no gold)."""
    gold_fraction: float = 0.1
    """Gold questions kept in the pool, relative to the number of ordinary queries (at least 5)."""
    gold_min_gap_std: float = 1.0
    """A gold pair's true returns differ by at least this many standard deviations of item returns."""
    repeat_rate: float = 0.05
    """Chance that a served pair repeats one the annotator answered, sides mirrored (self-consistency)."""
    practice_pairs: int = 0
    """Gold pairs each annotator answers first, for practice: the right answer is shown after each choice and
    the answers stay in the app's database, out of the preference store. Needs true returns (gold); a run
    without them serves no practice."""
    seed: int = 0
    """Seed of the side, gold and repeat draws."""

    def __post_init__(self) -> None:
        if self.overlap < 1:
            raise ValueError(f"overlap must be >= 1 annotator per query, got {self.overlap}")
        if self.lease_s <= 0:
            raise ValueError(f"lease_s must be positive seconds, got {self.lease_s}")
        for name in ("gold_rate", "repeat_rate", "gold_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if isinstance(self.practice_pairs, bool) or not isinstance(self.practice_pairs, int) or not 0 <= self.practice_pairs <= 100:
            raise ValueError(f"practice_pairs must be a whole number of pairs from 0 to 100, got {self.practice_pairs!r}")
        if self.gold_rate + self.repeat_rate > 1.0:
            raise ValueError(f"gold_rate + repeat_rate must be <= 1, got {self.gold_rate} + {self.repeat_rate}")


@dataclass
class Assignment:
    """One query leased to one annotator, with the side its first item is shown on."""

    id: int
    query_id: int
    annotator: str
    kind: Kind
    shown_left: Side
    issued: float
    expires: float
    state: Literal["open", "done", "released", "undone"] = "open"
    judgment_id: int | None = None
    supersedes: int | None = None
    """The undo row that a re-answer replaces (an edit), if this assignment was reopened by undo."""


@dataclass(frozen=True)
class PracticeResult:
    """The outcome of a practice answer (nothing reaches the preference store)."""

    correct: bool
    """Whether the answer named the gold label's side."""
    expected: Side
    """The right answer relative to (first, second)."""


NO_TOKEN = "none"
"""``Session.token_sha256`` of a session opened on loopback without a token (refused where tokens are required)."""


@dataclass(frozen=True)
class Session:
    """A browser session: who it is, the CSRF value its posts must echo and the token that opened it.

    Only hashes of ``id`` and ``csrf`` reach the database; the raw id lives in the browser's cookie and the CSRF
    value is derived from it (:func:`csrf_for`), so a page reload can show it again without storing it.
    """

    id: str
    """The raw session id (the cookie's value)."""
    annotator: str
    csrf: str
    """The value posts must send in ``X-CSRF-Token``."""
    token_sha256: str
    """SHA-256 of the annotator token that opened the session, or :data:`NO_TOKEN`."""


def judgment_annotator(name: str) -> str:
    """The ``annotator`` field stored for a person (``human:<name>``)."""
    return f"human:{name}"


def _sha256(text: str) -> str:
    # surrogatepass: a header or cookie value is arbitrary text; hashing it must never raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_for(session_id: str) -> str:
    """The CSRF value of a session: an HMAC of the fixed label ``csrf`` keyed by the raw session id.

    Someone who can read neither the cookie (``HttpOnly``) nor the page cannot compute it, and the database, which
    holds only hashes, cannot give it away.
    """
    return hmac.new(session_id.encode("utf-8", "surrogatepass"), b"csrf", hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class _QueryState:
    query: Query
    overlap: int
    holders: dict[str, Assignment] = field(default_factory=dict)
    """annotator → their first-time (normal or gold) assignment that is open or done."""


class LabelQueue:
    """Leases queries from ``store`` to annotators and turns their answers into judgments.

    Thread-safe: every public method takes one lock (a web server calls it from its event loop, a test or the
    training loop from others).

    Args:
        store: the run's preference store.
        app_db: path of the app's own SQLite file.
        clips: the clip index; a video query is served only when both its clips are registered.
        config: queue settings.
    """

    def __init__(self, store: PreferenceStore, app_db: str | Path, clips: ClipIndex, config: QueueConfig | None = None) -> None:
        self.store = store
        self.clips = clips
        self.config = config or QueueConfig()
        self.rng = random.Random(self.config.seed)
        self._lock = threading.RLock()
        # The queue's leases live in this process's memory: a second server on the same run would hand out
        # the same pairs twice, so the first one holds an exclusive lock on the run's app database.
        self._lockfile = open(f"{app_db}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise ValueError(
                f"another labelling server is already serving this run ({app_db} is locked); "
                "open that server's URL, or stop it before starting a new one"
            ) from None
        self._db = sqlite3.connect(str(app_db), check_same_thread=False, timeout=30.0, isolation_level=None)
        retry_while_locked(lambda: self._db.execute("PRAGMA journal_mode=WAL"), str(app_db))
        self._db.execute("PRAGMA synchronous=NORMAL")
        retry_while_locked(lambda: _create_schema(self._db), str(app_db))
        self.queries: dict[int, _QueryState] = {}
        self._text: set[int] = set()  # queries comparing two text items (served without clips)
        self._order: list[tuple[float, int]] = []  # (-priority, id) of ordinary queries still needing answers
        self._gold: list[int] = []
        self._cursor = 0
        self._normal_count = 0
        self._gold_checked_at = -1
        self.assignments: dict[int, Assignment] = {}
        self._open: dict[str, list[Assignment]] = {}
        self._done: dict[str, list[Assignment]] = {}
        self._repeated: set[tuple[str, int]] = set()
        self._practised: dict[str, int] = {}  # annotator → practice pairs answered
        self._agreed: set[tuple[str, str]] | None = None  # (annotator, briefing hash), loaded on first use
        with self._lock:
            self._sync()
            self._load()

    # -- state -----------------------------------------------------------------------------------------
    def _sync(self) -> None:
        """Pick up queries the loop appended since the last call."""
        new = self.store.queries(after=self._cursor)
        texts = self.store.find_items([i for sq in new for i in (sq.query.first, sq.query.second)])
        self._text.update(sq.id for sq in new if sq.query.first in texts and sq.query.second in texts)
        for sq in new:
            self._cursor = sq.id
            q = sq.query
            overlap = q.meta.get("overlap", self.config.overlap)
            state = _QueryState(q, int(overlap) if isinstance(overlap, int) and overlap >= 1 else self.config.overlap)
            self.queries[sq.id] = state
            if q.gold_label is not None:
                self._gold.append(sq.id)
            else:
                self._normal_count += 1
                bisect.insort(self._order, (-q.priority, sq.id))

    def _top_up_gold(self) -> None:
        # Only when new ordinary queries arrived: making gold scans the store, and a run without true returns
        # (or with too few items) would otherwise pay for that scan on every request.
        wanted = self.config.gold_rate > 0 or self.config.practice_pairs > 0
        if not wanted or self._normal_count == self._gold_checked_at:
            return
        self._gold_checked_at = self._normal_count
        want = max(5, math.ceil(self.config.gold_fraction * self._normal_count), self.config.practice_pairs)
        if len(self._gold) < want and self._normal_count:
            if make_gold_queries(self.store, want - len(self._gold), self.rng, self.config.gold_min_gap_std):
                self._sync()

    def _load(self) -> None:
        rows = self._db.execute(
            "SELECT id, query_id, annotator, kind, shown_left, issued, expires, state, judgment_id, supersedes "
            "FROM assignments ORDER BY id"
        ).fetchall()
        loaded = [Assignment(*row) for row in rows]
        self._reconcile(loaded)
        for a in loaded:
            self.assignments[a.id] = a
            self._index(a)

    def _reconcile(self, loaded: list[Assignment]) -> None:
        """Close open assignments whose answer reached the store but not the app database (a crash in between),
        so a restarted server does not serve them again."""
        linked = {a.judgment_id for a in loaded if a.judgment_id is not None}
        open_by_key = {(judgment_annotator(a.annotator), a.query_id): a for a in loaded if a.state == "open"}
        if not open_by_key:
            return
        for row in self.store.judgments():
            j = row.judgment
            a = open_by_key.get((j.annotator, j.query_id))
            if a is not None and row.id not in linked and j.note != "undo" and j.created >= a.issued:
                a.state, a.judgment_id = "done", row.id
                self._write(a)
                del open_by_key[(j.annotator, j.query_id)]

    def _index(self, a: Assignment) -> None:
        """Enter an assignment (new or loaded) into the in-memory views."""
        qs = self.queries.get(a.query_id)
        if a.state == "open":
            self._open.setdefault(a.annotator, []).append(a)
        elif a.state == "done" and a.kind == "practice":
            self._practised[a.annotator] = self._practised.get(a.annotator, 0) + 1  # never undone nor repeated
        elif a.state == "done":
            self._done.setdefault(a.annotator, []).append(a)
        if a.kind == "repeat":
            self._repeated.add((a.annotator, a.query_id))
        elif qs is not None and a.state in ("open", "done"):
            qs.holders[a.annotator] = a
            self._refresh_order(a.query_id)

    def _answers_needed(self, qid: int, now: float) -> int:
        qs = self.queries[qid]
        held = sum(1 for a in qs.holders.values() if a.state == "done" or (a.state == "open" and a.expires > now))
        return qs.overlap - held

    def _refresh_order(self, qid: int) -> None:
        """Keep ``_order`` to ordinary queries that still need an answer (done answers ≥ overlap leave it)."""
        qs = self.queries[qid]
        if qs.query.gold_label is not None:
            return
        key = (-qs.query.priority, qid)
        i = bisect.bisect_left(self._order, key)
        present = i < len(self._order) and self._order[i] == key
        complete = sum(a.state == "done" for a in qs.holders.values()) >= qs.overlap
        if complete and present:
            self._order.pop(i)
        elif not complete and not present:
            self._order.insert(i, key)

    def ready(self, qid: int) -> bool:
        """Whether a query can be shown: it is a text pair, or both of its clips are rendered."""
        q = self.queries[qid].query
        return qid in self._text or (self.clips.get(q.first) is not None and self.clips.get(q.second) is not None)

    def _write(self, a: Assignment, insert: bool = False) -> None:
        if insert:
            cur = self._db.execute(
                "INSERT INTO assignments (query_id, annotator, kind, shown_left, issued, expires, state, judgment_id, supersedes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (a.query_id, a.annotator, a.kind, a.shown_left, a.issued, a.expires, a.state, a.judgment_id, a.supersedes),
            )
            a.id = int(cur.lastrowid)  # type: ignore[arg-type]
        else:
            self._db.execute(
                "UPDATE assignments SET expires=?, state=?, judgment_id=? WHERE id=?", (a.expires, a.state, a.judgment_id, a.id)
            )

    def _new(self, annotator: str, qid: int, kind: Kind, now: float, shown_left: Side | None = None,
             supersedes: int | None = None) -> Assignment:
        side: Side = shown_left or ("first" if self.rng.random() < 0.5 else "second")
        a = Assignment(0, qid, annotator, kind, side, now, now + self.config.lease_s, supersedes=supersedes)
        self._write(a, insert=True)
        self.assignments[a.id] = a
        self._index(a)
        return a

    # -- sessions and tokens ---------------------------------------------------------------------------
    def add_annotator(self, name: str) -> str:
        """Create (or re-key, revoking their sessions) an annotator and return a fresh token for them (see
        :func:`add_annotator`)."""
        with self._lock:
            return _add_annotator(self._db, name)

    def annotator_for_token(self, token: str) -> str | None:
        """The annotator a token belongs to, or None."""
        with self._lock:
            row = self._db.execute("SELECT name FROM annotators WHERE token_sha256=?", (_sha256(token),)).fetchone()
        return row[0] if row else None

    def new_session(self, annotator: str, token: str | None = None) -> Session:
        """Open a session for ``annotator``, bound to ``token`` (None: a loopback sign-in without one).

        Raises:
            ValueError: for a bad name, or a token that is not ``annotator``'s.
        """
        check_name(annotator)
        token_sha256 = NO_TOKEN if token is None else _sha256(token)
        sid = secrets.token_urlsafe(32)
        s = Session(sid, annotator, csrf_for(sid), token_sha256)
        with self._lock:
            if token is not None and self.annotator_for_token(token) != annotator:
                raise ValueError(f"the token given is not {annotator!r}'s; use the link `rlhf-robotics label token` printed")
            self._db.execute(
                "INSERT INTO sessions (id_sha256, annotator, csrf_sha256, token_sha256, created) VALUES (?, ?, ?, ?, ?)",
                (_sha256(sid), annotator, _sha256(s.csrf), token_sha256, time.time()),
            )
        return s

    def session(self, session_id: str, allow_tokenless: bool) -> Session | None:
        """The live session whose raw id is ``session_id``, or None.

        A session is live while the token that opened it is still its annotator's (a re-key ends it); one opened
        without a token is live only when ``allow_tokenless`` (the app does not require tokens). Read from the
        database on every call, so a re-key by ``rlhf-robotics label token`` in another process takes effect at
        once.
        """
        if not session_id:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT s.id_sha256, s.annotator, s.csrf_sha256, s.token_sha256, a.token_sha256 FROM sessions s "
                "LEFT JOIN annotators a ON a.name = s.annotator WHERE s.id_sha256=?",
                (_sha256(session_id),),
            ).fetchone()
        if row is None:
            return None
        id_sha256, annotator, csrf_sha256, token_sha256, current_token = row
        csrf = csrf_for(session_id)
        if not (_same(id_sha256, _sha256(session_id)) and _same(csrf_sha256, _sha256(csrf))):
            return None
        if token_sha256 == NO_TOKEN:
            live = allow_tokenless
        else:
            live = current_token is not None and _same(token_sha256, current_token)
        return Session(session_id, annotator, csrf, token_sha256) if live else None

    @staticmethod
    def csrf_matches(session: Session, sent: str | None) -> bool:
        """Whether ``sent`` (the ``X-CSRF-Token`` header) is the session's CSRF value (compared as hashes)."""
        return sent is not None and _same(_sha256(sent), _sha256(session.csrf))

    # -- serving ---------------------------------------------------------------------------------------
    def next(self, annotator: str, n: int = 1) -> list[Assignment]:
        """The annotator's open assignments (oldest first, leases renewed), topped up to ``n`` with new ones."""
        if not 1 <= n <= 20:
            raise QueueError(400, f"n={n}: ask for between 1 and 20 pairs")
        now = time.time()
        with self._lock:
            self.clips.refresh()
            self._sync()
            self._top_up_gold()
            mine = [a for a in self._open.get(annotator, []) if a.state == "open"]
            self._open[annotator] = mine
            out = mine[:n]
            for a in out:
                a.expires = now + self.config.lease_s
                self._write(a)
            while len(out) < n:
                # ``mine`` is the annotator's open list, which _allocate's new assignment joins.
                fresh = self._allocate_practice(annotator, now, {o.query_id for o in mine})
                fresh = fresh or self._allocate(annotator, now, {o.query_id for o in mine})
                if fresh is None:
                    break
                out.append(fresh)
            return out

    def _allocate(self, annotator: str, now: float, skip: set[int]) -> Assignment | None:
        draw = self.rng.random()
        if draw < self.config.gold_rate:
            a = self._allocate_gold(annotator, now, skip)
            if a is not None:
                return a
        elif draw < self.config.gold_rate + self.config.repeat_rate:
            a = self._allocate_repeat(annotator, now, skip)
            if a is not None:
                return a
        for _, qid in self._order:
            if qid in skip or annotator in self.queries[qid].holders or not self.ready(qid):
                continue
            if self._answers_needed(qid, now) <= 0:
                continue
            self._release_expired(qid, now)
            return self._new(annotator, qid, "normal", now)
        return None

    def _release_expired(self, qid: int, now: float) -> None:
        """Free the expired leases of others on a query that is about to be handed out again."""
        qs = self.queries[qid]
        for who, a in list(qs.holders.items()):
            if a.state == "open" and a.expires <= now:
                a.state = "released"
                self._write(a)
                del qs.holders[who]

    def _allocate_practice(self, annotator: str, now: float, skip: set[int]) -> Assignment | None:
        """A gold pair for practice while the annotator has had fewer than ``practice_pairs`` (None otherwise, or
        when no gold pair is left to show them)."""
        had = self._practised.get(annotator, 0) + sum(a.kind == "practice" for a in self._open.get(annotator, [])
                                                      if a.state == "open")
        if had >= self.config.practice_pairs:
            return None
        unseen = [q for q in self._gold if q not in skip and annotator not in self.queries[q].holders and self.ready(q)]
        return self._new(annotator, self.rng.choice(unseen), "practice", now) if unseen else None

    def _allocate_gold(self, annotator: str, now: float, skip: set[int]) -> Assignment | None:
        unseen = [q for q in self._gold if q not in skip and annotator not in self.queries[q].holders and self.ready(q)]
        return self._new(annotator, self.rng.choice(unseen), "gold", now) if unseen else None

    def _allocate_repeat(self, annotator: str, now: float, skip: set[int]) -> Assignment | None:
        earlier = [
            a for a in self._done.get(annotator, [])
            if a.kind == "normal" and a.query_id not in skip and (annotator, a.query_id) not in self._repeated
        ]
        if not earlier:
            return None
        a = self.rng.choice(earlier)
        mirrored: Side = "second" if a.shown_left == "first" else "first"
        return self._new(annotator, a.query_id, "repeat", now, shown_left=mirrored)

    # -- answers ---------------------------------------------------------------------------------------
    def _mine(self, annotator: str, assignment_id: int) -> Assignment:
        a = self.assignments.get(assignment_id)
        if a is None or a.annotator != annotator:
            raise QueueError(404, f"assignment {assignment_id} is not one of {annotator!r}'s; fetch pairs from /api/next")
        return a

    def to_label(self, a: Assignment, answer: str) -> str:
        """Translate an answer as seen (``left``/``right``/...) into a label relative to (first, second)."""
        if answer not in ANSWERS:
            raise QueueError(422, f"answer {answer!r} is not one of {', '.join(ANSWERS)}")
        if answer == "left":
            return a.shown_left
        if answer == "right":
            return "second" if a.shown_left == "first" else "first"
        return answer

    def submit(
        self,
        annotator: str,
        assignment_id: int,
        answer: str,
        rubric: Mapping[str, str] | None = None,
        note: str = "",
        seconds: float | None = None,
    ) -> int | PracticeResult:
        """Store the answer to an open assignment as a judgment; returns the judgment id, or for a practice pair
        the :class:`PracticeResult` (kept in the app's ``practice`` table only).

        Raises:
            QueueError: 404 for someone else's or an unknown assignment, 409 when it was already answered or
                its lease went to another annotator, 422 for an unknown answer.
        """
        with self._lock:
            a = self._mine(annotator, assignment_id)
            if a.state != "open":
                why = {"done": "was already answered (press z to undo it)",
                       "released": "expired and went to another annotator",
                       "undone": "was undone and reopened as a new assignment"}[a.state]
                raise QueueError(409, f"assignment {assignment_id} {why}; fetch the next pair from /api/next")
            label = self.to_label(a, answer)
            if a.kind == "practice":
                return self._practice_answer(a, label, seconds)
            rubric_labels = {k: self.to_label(a, v) for k, v in (rubric or {}).items()}
            try:
                judgment = Judgment(
                    query_id=a.query_id,
                    label=label,  # type: ignore[arg-type]
                    annotator=judgment_annotator(annotator),
                    shown_left=a.shown_left,
                    rubric=rubric_labels,
                    note=note,
                    seconds=seconds,
                    supersedes=a.supersedes,
                    created=time.time(),
                )
            except ValueError as err:
                raise QueueError(422, str(err)) from None
            jid = self.store.add_judgment(judgment)
            a.state, a.judgment_id = "done", jid
            self._write(a)
            self._open[annotator] = [o for o in self._open.get(annotator, []) if o.id != a.id]
            self._done.setdefault(annotator, []).append(a)
            self._refresh_order(a.query_id)
            return jid

    def _practice_answer(self, a: Assignment, label: str, seconds: float | None) -> PracticeResult:
        expected = self.queries[a.query_id].query.gold_label
        assert expected in ("first", "second"), "practice pairs are gold pairs"
        result = PracticeResult(label == expected, expected)  # type: ignore[arg-type]
        self._db.execute(
            "INSERT INTO practice (assignment_id, annotator, query_id, answer, expected, correct, seconds, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.annotator, a.query_id, label, expected, int(result.correct), seconds, time.time()),
        )
        a.state = "done"
        self._write(a)
        self._open[a.annotator] = [o for o in self._open.get(a.annotator, []) if o.id != a.id]
        self._practised[a.annotator] = self._practised.get(a.annotator, 0) + 1
        return result

    def practice_answers(self, annotator: str | None = None) -> list[dict[str, object]]:
        """The practice answers kept in the app's database (all, or one annotator's), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT assignment_id, annotator, query_id, answer, expected, correct, seconds, created FROM practice "
                + ("WHERE annotator=? " if annotator is not None else "") + "ORDER BY assignment_id",
                (annotator,) if annotator is not None else (),
            ).fetchall()
        keys = ("assignment", "annotator", "query_id", "answer", "expected", "correct", "seconds", "created")
        return [dict(zip(keys, row)) for row in rows]

    # -- briefing --------------------------------------------------------------------------------------
    def agreed(self, annotator: str, briefing_sha256: str) -> bool:
        """Whether ``annotator`` agreed to the briefing whose SHA-256 is ``briefing_sha256``."""
        with self._lock:
            if self._agreed is None:
                self._agreed = {(a, b) for a, b in self._db.execute("SELECT annotator, briefing_sha256 FROM consents")}
            return (annotator, briefing_sha256) in self._agreed

    def agree(self, annotator: str, briefing_sha256: str) -> None:
        """Record that ``annotator`` read the briefing ``briefing_sha256`` and agreed (with the time)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO consents VALUES (?, ?, ?)", (annotator, briefing_sha256, time.time()))
            if self._agreed is not None:
                self._agreed.add((annotator, briefing_sha256))

    def undo(self, annotator: str) -> Assignment:
        """Supersede the annotator's latest answer with an undo row and reopen its pair (same sides) first.

        Raises:
            QueueError: 409 when there is nothing left to undo.
        """
        with self._lock:
            done = self._done.get(annotator, [])
            if not done:
                raise QueueError(409, f"{annotator!r} has no answer left to undo")
            a = done.pop()
            now = time.time()
            undo_id = self.store.add_judgment(
                Judgment(a.query_id, "skip", judgment_annotator(annotator), a.shown_left, note="undo",
                         supersedes=a.judgment_id, created=now)
            )
            a.state = "undone"
            self._write(a)
            qs = self.queries[a.query_id]
            if qs.holders.get(annotator) is a:
                del qs.holders[annotator]
            self._repeated.discard((annotator, a.query_id))
            reopened = self._new(annotator, a.query_id, a.kind, now, shown_left=a.shown_left, supersedes=undo_id)
            mine = self._open[annotator]
            mine.remove(reopened)
            mine.insert(0, reopened)
            return reopened

    # -- reporting -------------------------------------------------------------------------------------
    def progress(self) -> dict[str, int]:
        """Counts for the page and the dashboard."""
        now = time.time()
        with self._lock:
            self.clips.refresh()
            self._sync()
            waiting = sum(1 for _, q in self._order if not self.ready(q))
            leased = sum(1 for a in self.assignments.values() if a.state == "open" and a.expires > now)
            return {
                "queries": self._normal_count,
                "gold_queries": len(self._gold),
                "open_queries": len(self._order),
                "waiting_for_clips": waiting,
                "leased": leased,
            }

    def assignment_kinds(self) -> dict[int, Kind]:
        """judgment id → kind of the assignment it answered (normal, gold or repeat)."""
        with self._lock:
            return {a.judgment_id: a.kind for a in self.assignments.values() if a.judgment_id is not None}

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._lockfile.close()  # releases the lock


def _create_schema(db: sqlite3.Connection) -> None:
    """Create the app's tables, migrating an older file.

    App databases written before sessions were hashed hold a ``sessions`` table with plaintext ids and CSRF
    values: it is dropped (with its secrets) and recreated, so everyone signs in again once; annotators, their
    tokens and all assignments are kept.
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    if columns and "id_sha256" not in columns:
        db.execute("DROP TABLE sessions")
    db.executescript(_SCHEMA)


def _add_annotator(db: sqlite3.Connection, name: str) -> str:
    check_name(name)
    token = secrets.token_urlsafe(24)
    db.execute("BEGIN IMMEDIATE")  # one transaction: the new token and the end of the old token's sessions
    try:
        db.execute(
            "INSERT INTO annotators VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET token_sha256=excluded.token_sha256",
            (name, _sha256(token), time.time()),
        )
        db.execute("DELETE FROM sessions WHERE annotator=?", (name,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return token


def add_annotator(app_db: str | Path, name: str) -> str:
    """Create (or re-key) annotator ``name`` in the app database and return their new token.

    Only the token's SHA-256 is kept, so the token is shown once. Re-keying ends every session of ``name``
    (token-less loopback ones included): their browsers must open the new link. Works while a server runs on
    the same run.
    """
    db = sqlite3.connect(str(app_db), timeout=30.0, isolation_level=None)
    try:
        retry_while_locked(lambda: db.execute("PRAGMA journal_mode=WAL"), str(app_db))
        retry_while_locked(lambda: _create_schema(db), str(app_db))
        return _add_annotator(db, name)
    finally:
        db.close()


def check_name(name: str) -> str:
    """Annotator names: 1–64 letters, digits, ``_ . -``."""
    if not (1 <= len(name) <= 64 and all(c.isalnum() or c in "_.-" for c in name)):
        raise ValueError(f"annotator name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return name
