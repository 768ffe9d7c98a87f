"""Property-based fuzzing of every route of the labelling app (issue 11): whatever the query string, JSON body or
headers (Host, Cookie, X-CSRF-Token, Authorization, Content-Type, Range, anything), the answer is never a 5xx, and
a 4xx leaves the preference store (queries, judgments) and the app database (answers, sessions, annotators) as
they were.

The strategies mix valid credentials and ids with garbage so requests get past sign-in and reach the body checks.
Each of the four 500s of issue 11 makes these tests fail when its fix alone is undone: ``n=²``, ``n`` of over
4300 digits, JSON nested deeper than the parser's recursion limit, and a lone surrogate (``"\\ud800"``) in a
note. Runs are derandomized (fixed examples, no example database), so CI sees the same requests every time.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.ui import AppConfig, QueueConfig, create_app
from rlhf_robotics.ui.app import SESSION_COOKIE

from .conftest import build_run

ROUTES = ["/", "/dashboard", "/api/next", "/api/submit", "/api/undo", "/api/status", "/api/stats",
          "/clips/clip000.mp4", "/static/app.js", "/nowhere"]
FIELDS = ["assignment", "answer", "rubric", "note", "seconds"]
ANSWERS = ["left", "right", "tie", "cant_tell", "skip"]
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass
class Target:
    """One app under fuzzing, with credentials the strategies may use."""

    client: TestClient
    root: Path
    session: str
    csrf: str
    token: str


def _csrf_of(page_text: str) -> str:
    found = re.search(r'<script id="config" type="application/json">(.*?)</script>', page_text)
    assert found, page_text
    return str(json.loads(found.group(1))["csrf"])


def _target(root: Path, require_token: bool) -> Target:
    build_run(root, n_queries=10)
    (root / "rubric.json").write_text(json.dumps([{"name": "upright", "question": "Which stays upright?"}]))
    app = create_app(root, AppConfig(require_token=require_token, min_watch_s=0,
                                     queue=QueueConfig(gold_rate=0.2, repeat_rate=0.2)))
    client = TestClient(app)
    token = app.state.service.queue.add_annotator("fuzz")
    signed = client.get(f"/?token={token}" if require_token else "/?annotator=fuzz")
    assert signed.status_code == 200, signed.text
    session, csrf = client.cookies[SESSION_COOKIE], _csrf_of(signed.text)
    assert client.get("/api/next?n=5").status_code == 200  # some open assignments to answer
    client.cookies.clear()
    return Target(client, root, session, csrf, token)


@pytest.fixture(scope="module", params=["loopback", "tokens"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    """The app on loopback (no tokens) and as served off loopback (tokens required)."""
    return _target(tmp_path_factory.mktemp(request.param), require_token=request.param == "tokens")


# -- strategies ------------------------------------------------------------------------------------------------
any_text = st.text(st.characters(codec=None), max_size=40) | st.lists(
    st.characters(codec=None) | st.characters(categories=("Cs",)), min_size=1, max_size=8).map("".join)
"""Any code points, often with lone surrogates (only JSON bodies can carry them, as \\u escapes). A list, not
``st.text``: ``st.text`` of that union drops the surrogates."""
url_text = st.text(max_size=40)
"""Text a URL can carry (UTF-8 encodable)."""
header_bytes = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_NOT_ASCII_DIGITS = [c for c in map(chr, range(0x20000)) if c.isdigit() and not c.isascii()]
DIGITS_INT_READS = [c for c in _NOT_ASCII_DIGITS if c.isdecimal()]
"""``str.isdigit`` besides 0-9, read by ``int``: decimal digits of other scripts (``٣``)."""
DIGITS_INT_REFUSES = [c for c in _NOT_ASCII_DIGITS if not c.isdecimal()]
"""``str.isdigit`` besides 0-9, refused by ``int``: ``²``, ``①``."""
numbers_as_text = st.one_of(
    st.integers(-5, 10**12).map(str),
    st.lists(st.sampled_from(DIGITS_INT_READS) | st.sampled_from(DIGITS_INT_REFUSES) | st.sampled_from("0123456789"),
             min_size=1, max_size=4).map("".join),  # a list: st.text would weigh the three alphabets by size
    st.integers(4000, 6000).map(lambda k: "1" * k),  # beyond int's 4300-digit limit
    url_text,
)


def json_text(max_leaves: int = 12) -> st.SearchStrategy[str]:
    """JSON text (not values: numbers of any length, NaN, deep nesting and escaped surrogates are expressible)."""
    scalars = st.one_of(
        st.sampled_from(["null", "true", "false", "NaN", "-Infinity", "1e999", "-0", "0.5"]),
        st.integers().map(str),
        st.integers(1, 6000).map(lambda k: "9" * k),
        st.floats().map(lambda f: json.dumps(f)),
        st.sampled_from(ANSWERS).map(json.dumps),
        any_text.map(json.dumps),  # ensure_ascii: a lone surrogate becomes the escape "\udXXX"
    )
    nested = st.integers(1, 30000).map(lambda k: "[" * k + "]" * k)
    return st.recursive(
        st.one_of(scalars, nested),
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
            st.dictionaries(st.one_of(st.sampled_from([*FIELDS, "upright"]), any_text).map(json.dumps), children,
                            max_size=4).map(lambda d: "{" + ",".join(f"{k}:{v}" for k, v in d.items()) + "}"),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def submit_bodies(draw: st.DrawFn, ids: list[int]) -> bytes:
    """A valid submit for one of ``ids`` (or a made-up id), then perhaps a field replaced by any JSON, a field
    dropped or one added: most bodies are one mistake away from valid, so they reach the later checks and the
    store."""
    fields = {
        "assignment": str(draw(st.sampled_from(ids) if ids else st.integers(0, 40))),
        "answer": json.dumps(draw(st.sampled_from(ANSWERS))),
        "rubric": json.dumps({"upright": draw(st.sampled_from(ANSWERS))}),
        "note": json.dumps(draw(any_text)),  # ensure_ascii: a lone surrogate becomes the escape "\udXXX"
        "seconds": json.dumps(draw(st.floats(0, 100))),
    }
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from([*FIELDS, "extra"]))
        if draw(st.booleans()):
            fields[name] = draw(json_text())
        else:
            fields.pop(name, None)
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}").encode()


bodies = st.one_of(
    submit_bodies([]),
    json_text().map(str.encode),
    st.binary(max_size=200),
    st.just(b""),
)


@st.composite
def requests(draw: st.DrawFn, target: Target) -> dict[str, Any]:
    """Keyword arguments of ``TestClient.request``."""
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS"]))
    path = draw(st.one_of(
        st.sampled_from(ROUTES),
        st.tuples(st.sampled_from(["/clips/", "/static/", "/api/"]), st.one_of(
            url_text.map(lambda t: quote(t, safe="/")), st.binary(max_size=20).map(quote_from_bytes))
        ).map("".join),
    ))
    params = draw(st.lists(st.tuples(
        st.sampled_from(["n", "token", "annotator", "x"]) | url_text,
        numbers_as_text | st.sampled_from([target.token, "fuzz", "other", "../../x"]),
    ), max_size=3))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    if draw(st.booleans()):  # raw bytes, e.g. an encoded surrogate %ED%A0%80
        query += "&" + draw(st.sampled_from(["n", "token", "annotator"])) + "=" + quote_from_bytes(
            draw(st.binary(max_size=12)))
    headers: dict[str, bytes] = {}
    maybe = st.booleans()
    if draw(maybe):
        headers["host"] = draw(st.sampled_from([b"testserver", b"localhost", b"evil.example", b""]) | header_bytes)
    if draw(maybe):
        cookie = st.sampled_from([f"{SESSION_COOKIE}={target.session}".encode(), f"{SESSION_COOKIE}=".encode()])
        headers["cookie"] = draw(cookie | header_bytes.map(lambda b: SESSION_COOKIE.encode() + b"=" + b) | header_bytes)
    if draw(maybe):
        headers["x-csrf-token"] = draw(st.just(target.csrf.encode()) | header_bytes)
    if draw(maybe):
        headers["authorization"] = draw(st.sampled_from([f"Bearer {target.token}".encode(), b"Bearer wrong", b"Bearer "])
                                        | header_bytes.map(lambda b: b"Bearer " + b) | header_bytes)
    if draw(maybe):
        headers["content-type"] = draw(st.sampled_from([b"application/json", b"application/json; charset=latin-1",
                                                        b"text/plain"]) | header_bytes)
    else:
        headers["content-type"] = b"application/json"
    if draw(st.booleans()):
        headers["range"] = draw(st.sampled_from([b"bytes=0-9", b"bytes=-5", b"bytes=99999-", b"bytes=5-2"])
                                | header_bytes)
    if draw(st.booleans()):
        headers[draw(st.from_regex(r"\Ax-[a-z]{1,10}\Z"))] = draw(header_bytes)
    content = draw(bodies) if method in ("POST", "PUT") else None
    return {"method": method, "url": path + ("?" + query if query else ""), "headers": headers, "content": content}


# -- the property ----------------------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the app could write: the store's queries and judgments, the app database's tables."""
    paths = RunPaths(root)
    tables = {paths.store: ("queries", "judgments"), paths.app_db: ("assignments", "sessions", "annotators")}
    rows = {}
    for path, names in tables.items():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for name in names:
                rows[name] = db.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
        finally:
            db.close()
    return rows


def check(target: Target, request: dict[str, Any]) -> httpx.Response:
    target.client.cookies.clear()  # every example stands alone: cookies only from the drawn Cookie header
    before = snapshot(target.root)
    response = target.client.request(**request, follow_redirects=False)
    assert response.status_code < 500, (request, response.status_code, response.text[:500])
    if 400 <= response.status_code < 500:
        assert snapshot(target.root) == before, f"a refused request ({response.status_code}) changed the store"
        if request["method"] != "HEAD" and response.headers.get("content-type", "").startswith("application/json"):
            error = response.json().get("error")
            assert isinstance(error, str) and error, "a refusal says what is wrong"
    return response


def credentials(target: Target) -> st.SearchStrategy[dict[str, bytes]]:
    """Valid sign-ins (session cookie + CSRF value, or bearer token) and none."""
    return st.sampled_from([
        {"cookie": f"{SESSION_COOKIE}={target.session}".encode(), "x-csrf-token": target.csrf.encode()},
        {"authorization": f"Bearer {target.token}".encode()},
        {},
    ])


def open_assignments(target: Target) -> list[int]:
    """Ids of the fuzz annotator's open assignments (leasing new ones, before the example's snapshot)."""
    response = target.client.get("/api/next?n=3", headers={"authorization": f"Bearer {target.token}"})
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["assignments"]]


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_query_strings_never_get_a_5xx(target: Target, data: st.DataObject) -> None:
    """Every GET route, signed in or not, with fuzzed query parameters (numbers, tokens, names, raw bytes)."""
    route = data.draw(st.sampled_from(ROUTES) | st.sampled_from(["/", "/api/next"]))  # the two that read params
    named = {
        "n": numbers_as_text,
        "token": st.sampled_from([target.token, "wrong", ""]) | url_text,
        "annotator": st.sampled_from(["fuzz", "other", "../../x", ""]) | url_text,
    }
    params = [(name, data.draw(values)) for name, values in named.items() if data.draw(st.booleans())]
    params += data.draw(st.lists(st.tuples(url_text, url_text), max_size=2))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    if data.draw(st.booleans()):  # bytes that are not UTF-8, e.g. an encoded surrogate %ED%A0%80
        raw = quote_from_bytes(data.draw(st.binary(min_size=1, max_size=12)))
        query += f"&{data.draw(st.sampled_from(['n', 'token', 'annotator']))}={raw}"
    check(target, {"method": "GET", "url": f"{route}?{query}", "headers": data.draw(credentials(target)),
                   "content": None})


@settings(FUZZ, max_examples=100)
@given(n=numbers_as_text, data=st.data())
def test_query_numbers_never_get_a_5xx(target: Target, n: str, data: st.DataObject) -> None:
    """``/api/next?n=`` signed in: the one number a query string carries, as any digits or text."""
    headers = data.draw(credentials(target).filter(bool))
    check(target, {"method": "GET", "url": f"/api/next?n={quote(n)}", "headers": headers, "content": None})


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_json_bodies_never_get_a_5xx(target: Target, data: st.DataObject) -> None:
    """Posts by a signed-in annotator, often to a pair she holds, so the body reaches every check and the store."""
    ids = open_assignments(target)
    body = data.draw(submit_bodies(ids) | bodies)
    route = data.draw(st.sampled_from(["/api/submit", "/api/submit", "/api/submit", "/api/undo"]))
    headers = {**data.draw(credentials(target).filter(bool)), "content-type": b"application/json"}
    response = check(target, {"method": "POST", "url": route, "headers": headers, "content": body})
    if route == "/api/submit" and response.status_code == 200:
        # Reopen the pair, so the queue never runs dry of pairs to answer.
        assert target.client.post("/api/undo", headers=headers).status_code == 200


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_any_request_never_gets_a_5xx(target: Target, data: st.DataObject) -> None:
    """Any method, route and header (Host, Cookie, X-CSRF-Token, Authorization, Content-Type, Range, others)."""
    check(target, data.draw(requests(target)))
