"""The labelling web app: a Starlette application over one run directory.

Routes:

====================  ======  ==============================================================================
``/``                 GET     the pair page (``?token=`` signs in where tokens are required, ``?annotator=`` on
                              loopback), with the run's instruction above the clips; the briefing first, if any
``/api/agree``        POST    record that the annotator read the briefing and agreed (before the first pair)
``/dashboard``        GET     the run's learning curve, reward-model gold accuracy, pace, agreement and annotator
                              reliability plotted live; progress, gold accuracy, self-consistency, position bias
``/api/next?n=3``     GET     the annotator's next pairs (leased; sides already randomised)
``/api/submit``       POST    ``{"assignment", "answer": left|right|tie|cant_tell|skip, "rubric", "note", "seconds"}``;
                              a practice pair's answer comes back with ``{"practice": {"correct", "expected"}}``
``/api/undo``         POST    supersede the latest answer and reopen its pair
``/api/status``       GET     the loop's ``status.json`` and queue counts
``/api/stats``        GET     the dashboard's numbers as JSON
``/api/dashboard``    GET     the dashboard's plots as JSON: learning curve, gold accuracy, pace, agreement, reliability
``/clips/<file>``     GET     a clip from the run's ``clips/`` folder, with HTTP Range support
``/static/...``       GET     vendored JS and CSS
====================  ======  ==============================================================================

Authentication: a session cookie (``HttpOnly``, ``SameSite=Lax`` so a sign-in link opened from a chat or mail page
works) whose posts must echo the session's CSRF token in ``X-CSRF-Token`` (which no cross-site form can set); or ``Authorization: Bearer <annotator token>`` for scripted clients (no cookie, so no
CSRF token needed). Tokens are required whenever the server is bound to a non-loopback address. A session is bound to
the token that opened it: re-keying the annotator ends it, and a session opened on loopback without a token is
refused once the run is served with tokens (:mod:`rlhf_robotics.ui.queue` keeps only hashes of ids and CSRF values).

Bad input never gets a 5xx: every refusal is a 4xx JSON ``{"error": ...}`` (an HTML page for ``/``) that names the
problem. Numbers in query strings are ASCII digits of bounded length; JSON bodies are UTF-8, at most
:data:`MAX_BODY` bytes and :data:`MAX_DEPTH` levels deep, and hold no lone UTF-16 surrogate (``"\\ud800"``), which
no store can keep as text.

A study (issue 16): the instruction (``instruction.txt`` in the run directory, written by the loop from the task's
``env.instruction``; :attr:`AppConfig.instruction` overrides it) is shown above every pair; an optional briefing
(:attr:`AppConfig.briefing`, markdown or plain text rendered as escaped text) comes before the first pair, and
``/api/next`` serves nothing until the annotator has agreed to it; the first :attr:`QueueConfig.practice_pairs`
pairs are gold pairs answered for practice, with the right answer shown after the choice, and kept in the app's
own database only (never as judgments in the preference store).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from rlhf_robotics.preference.rundir import (
    CLIP_NAME,
    ClipIndex,
    RunPaths,
    read_instruction,
    read_rubric,
    read_status,
)
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui.quality import dashboard_series, quality_report
from rlhf_robotics.ui.queue import (
    Assignment,
    LabelQueue,
    PracticeResult,
    QueueConfig,
    QueueError,
    Session,
    check_name,
)

HERE = Path(__file__).parent
SESSION_COOKIE = "rlhf_label_session"
MAX_BODY = 64 * 1024
MAX_DEPTH = 16
"""Deepest nesting of objects and arrays in a JSON body (a submit needs 2)."""
MAX_NOTE = 4000
MAX_ID = 2**63 - 1
"""Largest id SQLite can hold."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]", "testserver")


@dataclass
class AppConfig:
    """Settings of the labelling app."""

    require_token: bool = False
    """Ask every annotator for their token (``rlhf-robotics label token``); forced on for non-loopback binds."""
    min_watch_s: float = 1.0
    """Seconds a pair must be on screen before an answer other than skip is accepted."""
    prefetch: int = 3
    """Pairs the page keeps loaded ahead, so the next one shows without waiting."""
    fps: float = 30.0
    """Frame rate assumed for frame stepping when ``clips/index.jsonl`` gives none."""
    trusted_hosts: tuple[str, ...] | None = None
    """Host headers accepted; None = loopback names only without tokens (stops DNS rebinding), any with tokens."""
    queue: QueueConfig = field(default_factory=QueueConfig)
    """Leases, overlap, gold, repeats and practice pairs."""
    instruction: str | None = None
    """What a good episode looks like, shown above the clips; None = the run's ``instruction.txt``."""
    briefing: str = ""
    """Briefing / consent text (markdown or plain text) shown before the first pair with an "I agree" button;
    empty = none."""
    forwarded_allow_ips: str | None = None
    """Addresses of reverse proxies whose ``X-Forwarded-For``/``-Proto`` headers uvicorn trusts (comma-separated,
    ``*`` for any); None = uvicorn's default, ``127.0.0.1`` (a proxy on this machine)."""
    ssl_keyfile: str | None = None
    """PEM private key: uvicorn serves HTTPS itself (with :attr:`ssl_certfile`)."""
    ssl_certfile: str | None = None
    """PEM certificate (chain) for :attr:`ssl_keyfile`."""

    def __post_init__(self) -> None:
        if self.min_watch_s < 0 or not math.isfinite(self.min_watch_s):
            raise ValueError(f"min_watch_s must be a finite number of seconds >= 0, got {self.min_watch_s}")
        if not 1 <= self.prefetch <= 20:
            raise ValueError(f"prefetch must be between 1 and 20 pairs, got {self.prefetch}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            raise ValueError("ssl_keyfile and ssl_certfile go together; give both (HTTPS) or neither")


class LabelService:
    """What the routes share: the run's paths, its store, the queue and the settings."""

    def __init__(self, run_dir: str | Path, config: AppConfig) -> None:
        self.paths = RunPaths(Path(run_dir))
        if not self.paths.root.is_dir():
            raise ValueError(f"run directory {self.paths.root} does not exist; pass the folder the loop writes to")
        self.config = config
        self.paths.clips.mkdir(exist_ok=True)
        self.clips_root = self.paths.clips.resolve()
        self.store = PreferenceStore(self.paths.store)
        self.queue = LabelQueue(self.store, self.paths.app_db, ClipIndex(self.paths.root), config.queue)
        self.rubric = read_rubric(self.paths.root)
        self.rubric_names = {c["name"] for c in self.rubric}
        self.briefing_sha256 = hashlib.sha256(config.briefing.encode()).hexdigest() if config.briefing.strip() else ""

    def instruction(self) -> str:
        """The instruction for people: the app's override, else the run's ``instruction.txt`` (read each time:
        the loop writes it when it starts, possibly after the app)."""
        return self.config.instruction if self.config.instruction is not None else read_instruction(self.paths.root)

    def needs_briefing(self, annotator: str) -> bool:
        """Whether ``annotator`` must still read and agree to the briefing (a changed briefing asks again)."""
        return bool(self.briefing_sha256) and not self.queue.agreed(annotator, self.briefing_sha256)

    def close(self) -> None:
        self.queue.close()
        self.store.close()

    def describe(self, a: Assignment) -> dict[str, Any]:
        """The page's view of an assignment: sides, media and nothing that reveals gold or repeats."""
        q = self.queue.queries[a.query_id].query
        order = (q.first, q.second) if a.shown_left == "first" else (q.second, q.first)
        texts = self.store.find_items(order)  # the LM track's items (prompt + response)
        if len(texts) == 2:
            left_text, right_text = texts[order[0]], texts[order[1]]
            text = {"id": a.id, "kind": "text", "prompt": left_text.prompt,
                    "left": {"text": left_text.response}, "right": {"text": right_text.response}}
            return {**text, "practice": True} if a.kind == "practice" else text
        left, right = self.queue.clips.get(order[0]), self.queue.clips.get(order[1])
        assert left is not None and right is not None, "the queue serves only pairs whose clips are ready"
        fps = left[1] or right[1] or self.config.fps
        rates = {self.queue.clips.rate(order[0]), self.queue.clips.rate(order[1])}
        out: dict[str, Any] = {"id": a.id, "kind": "video", "fps": fps,
                               "left": {"src": f"clips/{left[0]}"}, "right": {"src": f"clips/{right[0]}"}}
        if rates != {1.0}:
            out["rate"] = min(rates)  # simulated seconds per second of video: the page says it is slowed down
        for side, item in (("left", order[0]), ("right", order[1])):
            scored = self.queue.clips.scored.get(item)
            if scored is not None:  # the clip shows context around the segment: the page marks the scored part
                out[side]["scored"] = list(scored)
        if a.kind == "practice":
            out["practice"] = True  # announced: practice pairs teach, their answer is shown after the choice
        return out

    def status(self) -> dict[str, Any]:
        status = read_status(self.paths.root)
        progress = self.queue.progress()
        message = str(status.get("message") or "")
        if not message:
            message = {
                "waiting_for_policy": "waiting for the policy to produce new segments",
                "rendering": "rendering clips",
                "done": "the run is finished: nothing left to label",
            }.get(str(status.get("state")), "no pairs to label yet")
        if progress["waiting_for_clips"]:
            message += f" ({progress['waiting_for_clips']} pairs waiting for their clips)"
        return {"state": status.get("state"), "round": status.get("round"), "message": message, "progress": progress}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages (repr also escapes lone surrogates)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _auth(request: Request) -> tuple[str, Session | None] | None:
    """(annotator, session) from a bearer token or the session cookie; None if neither is valid."""
    service: LabelService = request.app.state.service
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        name = service.queue.annotator_for_token(header[7:].strip())
        return (name, None) if name else None
    session = service.queue.session(request.cookies.get(SESSION_COOKIE, ""),
                                    allow_tokenless=not service.config.require_token)
    return (session.annotator, session) if session else None


def _need_auth(request: Request) -> tuple[str, Session | None] | JSONResponse:
    who = _auth(request)
    if who is None:
        return _error(401, "not signed in: open the page URL with ?token=<your token> (from `rlhf-robotics label token`) "
                           "or send 'Authorization: Bearer <token>'")
    return who


def _need_csrf(request: Request, session: Session | None) -> JSONResponse | None:
    if session is not None and not LabelQueue.csrf_matches(session, request.headers.get("x-csrf-token")):
        return _error(403, "missing or wrong X-CSRF-Token header; reload the page to get a fresh token")
    return None


def _need_signed_post(request: Request) -> tuple[str, Session | None] | JSONResponse:
    """A state-changing request: signed in (cookie or bearer token) and, with a cookie, echoing its CSRF token."""
    who = _need_auth(request)
    if isinstance(who, JSONResponse):
        return who
    return _need_csrf(request, who[1]) or who


async def page(request: Request) -> Response:
    service: LabelService = request.app.state.service
    token = request.query_params.get("token")
    if token is not None:
        name = service.queue.annotator_for_token(token)
        if name is None:
            return _message_page(request, 401, "Unknown token", "This token is not valid for this run. Ask the run's "
                                 "owner for a new link (`rlhf-robotics label token run=<dir> name=<you>`).")
        return _signed_in(service.queue.new_session(name, token), "./", request.url.scheme == "https")
    who = _auth(request)
    if who is None or who[1] is None:
        if service.config.require_token:
            return _message_page(request, 401, "Sign-in needed", "Open the link with your token "
                                 "(`rlhf-robotics label token run=<dir> name=<you>` prints it).")
        try:
            name = check_name(request.query_params.get("annotator", "local"))
        except ValueError as err:
            return _message_page(request, 400, "Bad annotator name", str(err))
        return _signed_in(service.queue.new_session(name), "./", request.url.scheme == "https")
    session = who[1]
    requested = request.query_params.get("annotator")
    if requested is not None and requested != session.annotator and not service.config.require_token:
        try:
            return _signed_in(service.queue.new_session(check_name(requested)), "./", request.url.scheme == "https")
        except ValueError as err:
            return _message_page(request, 400, "Bad annotator name", str(err))
    briefing = service.needs_briefing(session.annotator)
    config = {
        "csrf": session.csrf,
        "annotator": session.annotator,
        "minWatch": service.config.min_watch_s,
        "prefetch": service.config.prefetch,
        "rubric": service.rubric,
        "briefing": briefing,
        "practicePairs": service.config.queue.practice_pairs,
    }
    # json.dumps leaves "<" as is: escape it so no text in the config can close the <script> element.
    config_json = json.dumps(config).replace("<", "\\u003c")
    return request.app.state.templates.TemplateResponse(
        request, "pair.html", {"config_json": config_json, "annotator": session.annotator, "rubric": service.rubric,
                               "instruction": service.instruction(),
                               "briefing_html": render_briefing(service.config.briefing) if briefing else ""},
    )


def render_briefing(text: str) -> str:
    """A briefing in markdown or plain text as safe HTML: every character escaped, then only structure added
    (``#`` headings, ``-``/``*`` list items, blank-line paragraphs, ``**bold**``); links and raw HTML stay text."""
    blocks: list[str] = []
    items: list[str] = []
    para: list[str] = []

    def inline(line: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(line.strip()))

    def flush() -> None:
        if para:
            blocks.append(f"<p>{' '.join(inline(x) for x in para)}</p>")
            para.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{inline(x)}</li>" for x in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        heading = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1)) + 1  # the page's own title is h1
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif re.match(r"^[-*]\s+", stripped):
            if para:
                flush()
            items.append(re.sub(r"^[-*]\s+", "", stripped))
        else:
            if items:
                flush()
            para.append(stripped)
    flush()
    return "\n".join(blocks)


def _signed_in(session: Session, to: str, secure: bool = False) -> Response:
    response = RedirectResponse(to, status_code=303)
    # Secure when the browser reached us over HTTPS, directly or through a trusted proxy (X-Forwarded-Proto).
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="lax", max_age=30 * 86400, secure=secure)
    return response


def _message_page(request: Request, status: int, title: str, text: str) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "message.html", {"title": title, "text": text}, status_code=status
    )


async def dashboard(request: Request) -> Response:
    who = _auth(request)
    if who is None and request.app.state.service.config.require_token:
        return _message_page(request, 401, "Sign-in needed", "Open the labelling link with your token first.")
    return request.app.state.templates.TemplateResponse(request, "dashboard.html", {})


async def api_next(request: Request) -> Response:
    service: LabelService = request.app.state.service
    who = _need_auth(request)
    if isinstance(who, JSONResponse):
        return who
    n = _query_int(request, "n", 1, "ask for a whole number of pairs between 1 and 20")
    if isinstance(n, JSONResponse):
        return n
    if service.needs_briefing(who[0]):
        return _error(409, "read the briefing and agree to it first: open the labelling page, or POST /api/agree")
    try:
        batch = service.queue.next(who[0], n)
    except QueueError as err:
        return _error(err.status, err.message)
    body: dict[str, Any] = {"assignments": [service.describe(a) for a in batch]}
    if not batch:
        body["status"] = service.status()
    return JSONResponse(body)


_DIGITS = re.compile(r"[0-9]{1,9}")
"""A whole number in a query string: ASCII digits only (``str.isdigit`` also takes ``²`` and ``٣``, which
``int`` refuses or reads), and few enough that ``int`` never meets its 4300-digit limit."""


def _query_int(request: Request, name: str, default: int, hint: str) -> int | JSONResponse:
    """Query parameter ``name`` as a non-negative int, or a 400 naming the value and ``hint``."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        return _error(400, f"{name}={_shown(raw)} is not a number of at most 9 ASCII digits: {hint}")
    return int(raw)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _json_depth(text: str) -> int:
    """Deepest nesting of ``[`` and ``{`` outside strings, found without parsing (the parser recurses once per
    level and would hit Python's recursion limit long before the size limit)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _lone_surrogate(value: Any, where: str) -> str | None:
    """The path of the first key or string in ``value`` that holds a lone UTF-16 surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate(key, f"{where}.{_shown(key)}") or _lone_surrogate(item, f"{where}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    return None


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(415, "send the answer as JSON with 'Content-Type: application/json'")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error(413, f"request body of {len(raw)} bytes is over the {MAX_BODY}-byte limit; shorten the note")
    try:
        text = raw.decode("utf-8") if raw else "{}"
    except UnicodeDecodeError as err:
        return _error(400, f"the body is not UTF-8 ({err}); send JSON encoded as UTF-8")
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        return _error(400, f"the body nests objects and arrays {depth} levels deep; at most {MAX_DEPTH} are accepted")
    try:
        body = json.loads(text)
    except ValueError as err:  # also ints of over 4300 digits
        return _error(400, f"the body is not valid JSON ({err})")
    if not isinstance(body, dict):
        return _error(422, f"the body must be a JSON object, got {type(body).__name__}")
    # json.loads turns the escape "\ud800" into a lone surrogate, which is not text: SQLite and UTF-8 refuse it.
    bad = _lone_surrogate(body, "body")
    if bad:
        return _error(400, f"{bad} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape); send "
                           "valid Unicode text")
    return body


async def api_submit(request: Request) -> Response:
    service: LabelService = request.app.state.service
    who = _need_signed_post(request)
    if isinstance(who, JSONResponse):
        return who
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    problem = _check_submit(body, service)
    if problem:
        return _error(422, problem)
    try:
        jid = service.queue.submit(who[0], body["assignment"], body["answer"], body.get("rubric") or {},
                                   body.get("note", ""), body.get("seconds"))
    except QueueError as err:
        return _error(err.status, err.message)
    if isinstance(jid, PracticeResult):
        a = service.queue.assignments[body["assignment"]]
        expected = "left" if jid.expected == a.shown_left else "right"
        return JSONResponse({"judgment": None, "practice": {"correct": jid.correct, "expected": expected}})
    return JSONResponse({"judgment": jid})


async def api_agree(request: Request) -> Response:
    service: LabelService = request.app.state.service
    who = _need_signed_post(request)
    if isinstance(who, JSONResponse):
        return who
    if not service.briefing_sha256:
        return _error(404, "this study has no briefing to agree to; fetch pairs from /api/next")
    service.queue.agree(who[0], service.briefing_sha256)
    return JSONResponse({"agreed": True})


def _check_submit(body: dict[str, Any], service: LabelService) -> str | None:
    """A message naming the first bad field of a submit body, or None when it is well-formed."""
    unknown = set(body) - {"assignment", "answer", "rubric", "note", "seconds"}
    if unknown:
        return f"unknown fields {_shown(sorted(unknown))}; a submit has assignment, answer, rubric, note and seconds"
    assignment = body.get("assignment")
    if not isinstance(assignment, int) or isinstance(assignment, bool) or not 1 <= assignment <= MAX_ID:
        return f"assignment must be the positive integer id from /api/next, got {_shown(assignment)}"
    answer = body.get("answer")
    if answer not in ("left", "right", "tie", "cant_tell", "skip"):
        return f"answer {_shown(answer)} is not one of left, right, tie, cant_tell, skip"
    rubric = body.get("rubric") or {}
    if not isinstance(rubric, dict):
        return f"rubric must be an object of criterion → answer, got {type(rubric).__name__}"
    for name, value in rubric.items():
        if name not in service.rubric_names:
            return f"rubric criterion {_shown(name)} is not asked in this run (asked: {sorted(service.rubric_names)})"
        if value not in ("left", "right", "tie", "cant_tell", "skip"):
            return f"rubric answer {_shown(value)} for {name!r} is not one of left, right, tie, cant_tell, skip"
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        return f"note must be text of at most {MAX_NOTE} characters"
    seconds = body.get("seconds")
    if seconds is not None:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 86400:
            return f"seconds must be a number of seconds between 0 and 86400, got {_shown(seconds)}"
        if answer != "skip" and seconds < service.config.min_watch_s:
            return f"answered after {seconds:.2f} s; watch the pair for at least {service.config.min_watch_s} s"
    elif answer != "skip" and service.config.min_watch_s > 0:
        return "seconds (time on task) is required to check the minimum watch time"
    return None


async def api_undo(request: Request) -> Response:
    service: LabelService = request.app.state.service
    who = _need_signed_post(request)
    if isinstance(who, JSONResponse):
        return who
    try:
        reopened = service.queue.undo(who[0])
    except QueueError as err:
        return _error(err.status, err.message)
    return JSONResponse({"assignment": service.describe(reopened)})


def _need_reader(request: Request) -> JSONResponse | None:
    """Read-only pages need a sign-in only where tokens are required (on loopback anyone here may look)."""
    if request.app.state.service.config.require_token:
        who = _need_auth(request)
        if isinstance(who, JSONResponse):
            return who
    return None


async def api_status(request: Request) -> Response:
    refused = _need_reader(request)
    if refused:
        return refused
    return JSONResponse(request.app.state.service.status())


async def api_stats(request: Request) -> Response:
    service: LabelService = request.app.state.service
    refused = _need_reader(request)
    if refused:
        return refused
    queries = {sq.id: sq.query for sq in service.store.queries()}
    report = quality_report(service.store.judgments(), queries)
    return JSONResponse({"quality": report.to_json(), **service.status()})


async def api_dashboard(request: Request) -> Response:
    """The dashboard's plots: the run's learning curve and the reward model's gold accuracy per round (from
    ``metrics.jsonl``), answers per minute per annotator, agreement over time, fitted reliability. Read-only."""
    service: LabelService = request.app.state.service
    refused = _need_reader(request)
    if refused:
        return refused
    metrics: list[dict[str, Any]] = []
    if service.paths.metrics.exists():
        for line in service.paths.metrics.read_text(encoding="utf-8").splitlines():
            try:
                metrics.append(json.loads(line))
            except ValueError:  # the loop may be half-way through appending the last row
                continue
    queries = {sq.id: sq.query for sq in service.store.queries()}
    return JSONResponse(dashboard_series(service.store.judgments(), queries, metrics))


async def clip(request: Request) -> Response:
    service: LabelService = request.app.state.service
    if service.config.require_token and _auth(request) is None:
        return _error(401, "not signed in: open the page with your token first")
    name = request.path_params["name"]
    if not CLIP_NAME.match(name):
        return _error(404, f"clip name {name!r} is not a plain .mp4/.webm file name in the run's clips folder")
    path = (service.clips_root / name).resolve()
    if path.parent != service.clips_root or not path.is_file():
        return _error(404, f"no clip {name!r} in the run's clips folder")
    media = "video/webm" if name.endswith(".webm") else "video/mp4"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` (time inside the app, excluding the network and
    HTTP parsing), so a slow answer can be told apart from a busy machine in the browser's dev tools."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                dur = f"app;dur={1000 * (time.perf_counter() - start):.3f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", dur)]}
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(run_dir: str | Path, config: AppConfig | None = None) -> Starlette:
    """Build the app for one run directory. ``app.state.service`` holds the store and queue; close it on exit."""
    config = config or AppConfig()
    service = LabelService(run_dir, config)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    hosts = config.trusted_hosts
    if hosts is None:
        hosts = ("*",) if config.require_token else LOOPBACK_HOSTS
    routes = [
        Route("/", page),
        Route("/dashboard", dashboard),
        Route("/api/next", api_next),
        Route("/api/submit", api_submit, methods=["POST"]),
        Route("/api/undo", api_undo, methods=["POST"]),
        Route("/api/agree", api_agree, methods=["POST"]),
        Route("/api/status", api_status),
        Route("/api/stats", api_stats),
        Route("/api/dashboard", api_dashboard),
        Route("/clips/{name:path}", clip),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.close()

    middleware = [Middleware(ServerTiming), Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.service = service
    app.state.templates = templates
    return app
