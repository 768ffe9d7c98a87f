"""Bad input gets a 4xx with a message and leaves the store unchanged: forged and malformed submits, CSRF,
tokens, unknown ids, path traversal, odd numbers, deep JSON, lone surrogates; sessions end with their token and
are stored only as hashes; clips honour HTTP Range requests (browsers need them to seek)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, create_app
from rlhf_robotics.ui.app import SESSION_COOKIE
from rlhf_robotics.ui.queue import LabelQueue, add_annotator

from .test_app import app_client, sign_in, submit


def count(root: Path) -> int:
    with PreferenceStore(RunPaths(root).store) as store:
        return store.count_judgments()


@pytest.fixture
def signed_in(run_dir: Path) -> tuple[TestClient, str, int]:
    client = app_client(run_dir, min_watch_s=1.0)
    csrf = sign_in(client)
    assignment = client.get("/api/next").json()["assignments"][0]["id"]
    return client, csrf, assignment


BAD_BODIES = [
    ({"assignment": "1", "answer": "left", "seconds": 2}, 422, "positive integer"),
    ({"assignment": True, "answer": "left", "seconds": 2}, 422, "positive integer"),
    ({"answer": "left", "seconds": 2}, 422, "assignment"),
    ({"assignment": 1, "answer": "first", "seconds": 2}, 422, "not one of left, right"),
    ({"assignment": 1, "answer": "left", "seconds": -1}, 422, "seconds"),
    ({"assignment": 1, "answer": "left", "seconds": 1e9}, 422, "seconds"),
    ({"assignment": 1, "answer": "left", "seconds": 0.2}, 422, "at least 1.0 s"),
    ({"assignment": 1, "answer": "left"}, 422, "seconds"),
    ({"assignment": 1, "answer": "left", "seconds": 2, "shown_left": "first"}, 422, "unknown fields"),
    ({"assignment": 1, "answer": "left", "seconds": 2, "rubric": {"speed": "left"}}, 422, "not asked"),
    ({"assignment": 1, "answer": "left", "seconds": 2, "rubric": ["left"]}, 422, "rubric"),
    ({"assignment": 1, "answer": "left", "seconds": 2, "note": 5}, 422, "note"),
    ({"assignment": 1, "answer": "left", "seconds": 2, "note": "x" * 5000}, 422, "note"),
    ({"assignment": 999, "answer": "left", "seconds": 2}, 404, "not one of 'ann'"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_malformed_submits_are_refused(run_dir: Path, signed_in, body, status, message) -> None:
    client, csrf, _ = signed_in
    response = client.post("/api/submit", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == status
    assert message in response.json()["error"]
    assert count(run_dir) == 0


def test_unparseable_and_wrongly_typed_bodies(run_dir: Path, signed_in) -> None:
    client, csrf, _ = signed_in
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    cases = [
        (client.post("/api/submit", content=b"{not json", headers=headers), 400, "not valid JSON"),
        (client.post("/api/submit", content=b"[1, 2]", headers=headers), 422, "JSON object"),
        (client.post("/api/submit", content=b'{"assignment": 1, "answer": "left", "seconds": NaN}', headers=headers),
         422, "seconds"),
        (client.post("/api/submit", data={"assignment": "1"}, headers={"X-CSRF-Token": csrf}), 415, "application/json"),
        (client.post("/api/submit", content=b"{" + b" " * 70000 + b"}", headers=headers), 413, "limit"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    assert count(run_dir) == 0


def test_forged_submits_for_someone_elses_or_answered_pairs(run_dir: Path, signed_in) -> None:
    client, csrf, mine = signed_in
    intruder = TestClient(client.app)
    intruder_csrf = sign_in(intruder, "mallory")
    stolen = submit(intruder, intruder_csrf, mine, "left")
    assert stolen.status_code == 404 and "not one of 'mallory'" in stolen.json()["error"]
    assert submit(client, csrf, mine, "left").status_code == 200
    again = submit(client, csrf, mine, "right")
    assert again.status_code == 409 and "already answered" in again.json()["error"]
    assert count(run_dir) == 1


def test_csrf_token_is_required_on_posts(run_dir: Path, signed_in) -> None:
    client, csrf, assignment = signed_in
    body = {"assignment": assignment, "answer": "left", "seconds": 2}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = client.post("/api/submit", json=body, headers=headers)
        assert response.status_code == 403 and "X-CSRF-Token" in response.json()["error"]
        assert client.post("/api/undo", json={}, headers=headers).status_code == 403
    assert count(run_dir) == 0


def test_api_without_a_session_is_unauthorised(run_dir: Path) -> None:
    client = app_client(run_dir)
    for response in (client.get("/api/next"), client.post("/api/submit", json={}), client.post("/api/undo", json={})):
        assert response.status_code == 401 and "not signed in" in response.json()["error"]
    # Read-only numbers are open on loopback (the dashboard works before signing in) ...
    assert client.get("/api/stats").status_code == 200
    assert count(run_dir) == 0


def test_tokens_when_required(run_dir: Path) -> None:
    queue_config = QueueConfig(gold_rate=0, repeat_rate=0)
    app = create_app(run_dir, AppConfig(require_token=True, min_watch_s=0, queue=queue_config))
    service = app.state.service
    token = service.queue.add_annotator("ann")
    anonymous = TestClient(app)
    page = anonymous.get("/")
    assert page.status_code == 401 and "token" in page.text
    assert anonymous.get("/?annotator=ann").status_code == 401, "no choosing a name when tokens are required"
    assert anonymous.get("/?token=wrong").status_code == 401
    assert anonymous.get("/api/next").status_code == 401
    assert anonymous.get("/api/stats").status_code == 401  # ... but not when tokens are required
    assert anonymous.get("/api/status").status_code == 401
    assert anonymous.get("/clips/clip000.mp4").status_code == 401
    bad_bearer = anonymous.get("/api/next", headers={"Authorization": "Bearer wrong"})
    assert bad_bearer.status_code == 401 and "token" in bad_bearer.json()["error"]
    # A bearer token needs no CSRF token (no cookie is involved).
    bearer = {"Authorization": f"Bearer {token}"}
    pair = anonymous.get("/api/next", headers=bearer).json()["assignments"][0]
    assert anonymous.post("/api/submit", json={"assignment": pair["id"], "answer": "tie"}, headers=bearer).status_code == 200
    # The link with the token signs a browser in and drops the token from the address.
    browser = TestClient(app)
    signed = browser.get(f"/?token={token}", follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "./"
    assert browser.get("/").status_code == 200
    assert browser.get("/clips/clip000.mp4").status_code == 200
    assert count(run_dir) == 1


def test_foreign_host_header_is_refused_on_loopback(run_dir: Path) -> None:
    client = TestClient(create_app(run_dir), base_url="http://evil.example")
    assert client.get("/").status_code == 400  # DNS rebinding: a page on another name cannot drive the app


def test_clips_support_range_requests(run_dir: Path) -> None:
    client = app_client(run_dir)
    whole = (run_dir / "clips" / "clip000.mp4").read_bytes()
    full = client.get("/clips/clip000.mp4")
    assert full.status_code == 200 and full.content == whole and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "video/mp4"
    part = client.get("/clips/clip000.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    tail = client.get("/clips/clip000.mp4", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    beyond = client.get("/clips/clip000.mp4", headers={"Range": f"bytes={len(whole) + 5}-"})
    assert beyond.status_code == 416


@pytest.mark.parametrize(
    "path",
    [
        "/clips/..%2Fpreferences.sqlite",
        "/clips/%2e%2e/%2e%2e/etc/passwd",
        "/clips/..%2F..%2F..%2Fetc%2Fpasswd",
        "/clips/index.jsonl",
        "/clips/.hidden.mp4",
        "/clips/sub/clip000.mp4",
        "/clips/%2Fetc%2Fpasswd",
        "/clips/missing.mp4",
        "/clips/escape.mp4",
        "/static/..%2F..%2Fpreference%2Fstore.py",
    ],
)
def test_nothing_outside_the_clip_folder_is_served(run_dir: Path, path: str) -> None:
    os.symlink(run_dir / "preferences.sqlite", run_dir / "clips" / "escape.mp4")
    client = app_client(run_dir)
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert b"SQLite" not in response.content and b"root:" not in response.content


def test_unknown_or_bad_n(run_dir: Path, signed_in) -> None:
    client, _, _ = signed_in
    for n, status in (("0", 400), ("21", 400), ("x", 400), ("-1", 400)):
        response = client.get(f"/api/next?n={n}")
        assert response.status_code == status and "between 1 and 20" in response.json()["error"]


def test_annotator_names_are_checked(run_dir: Path) -> None:
    client = app_client(run_dir)
    assert client.get("/?annotator=../../x").status_code == 400
    with pytest.raises(ValueError, match="annotator name"):
        client.app.state.service.queue.add_annotator("a b")
    assert isinstance(client.app.state.service.queue, LabelQueue)


# -- input that used to answer 500 (issue 11) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "why"),
    [
        ("²", "a digit to str.isdigit, not to int"),
        ("٣", "an Arabic-Indic digit, which int reads as 3"),
        ("1" * 5000, "over int's 4300-digit limit"),
        ("0" * 50 + "3", "a number spelled with 51 digits"),
    ],
)
def test_query_numbers_are_ascii_digits_of_bounded_length(run_dir: Path, signed_in, n: str, why: str) -> None:
    client, _, _ = signed_in
    response = client.get("/api/next", params={"n": n})
    assert response.status_code == 400, why
    assert "ASCII digits" in response.json()["error"] and "between 1 and 20" in response.json()["error"]
    assert len(response.json()["error"]) < 300, "the message quotes a bounded part of the value"


def test_deeply_nested_json_within_the_size_limit_is_refused(run_dir: Path, signed_in) -> None:
    client, csrf, assignment = signed_in
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    deep = b'{"assignment": %d, "answer": "left", "seconds": 2, "rubric": ' % assignment
    deep += b"[" * 20000 + b"]" * 20000 + b"}"
    assert len(deep) < 64 * 1024
    response = client.post("/api/submit", content=deep, headers=headers)
    assert response.status_code == 400 and "levels deep" in response.json()["error"]
    # Brackets inside strings are text, not nesting.
    text = b'{"assignment": %d, "answer": "left", "seconds": 2, "note": "%s"}' % (assignment, b"[" * 3000)
    assert client.post("/api/submit", content=text, headers=headers).status_code == 200
    assert count(run_dir) == 1


@pytest.mark.parametrize("field", ["note", "answer", "rubric key", "unknown key"])
def test_a_lone_surrogate_is_refused_naming_the_field(run_dir: Path, signed_in, field: str) -> None:
    client, csrf, assignment = signed_in
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    parts = {"note": ('"note": "ok \\ud800"', "body.note"), "answer": ('"note": "", "answer": "\\udfff"', "body.answer"),
             "rubric key": ('"rubric": {"\\ud83d": "left"}', "body.rubric."),
             "unknown key": ('"x\\udc00": 1', "body.")}[field]
    raw = f'{{"assignment": {assignment}, "answer": "left", "seconds": 2, {parts[0]}}}'.encode()
    response = client.post("/api/submit", content=raw, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith(parts[1]) and "lone UTF-16 surrogate" in error
    # A surrogate pair is an ordinary character (an emoji here) and is kept.
    pair = f'{{"assignment": {assignment}, "answer": "left", "seconds": 2, "note": "\\ud83d\\ude00"}}'.encode()
    assert client.post("/api/submit", content=pair, headers=headers).status_code == 200
    assert count(run_dir) == 1


def test_a_body_that_is_not_utf8_is_refused(run_dir: Path, signed_in) -> None:
    client, csrf, assignment = signed_in
    raw = b'{"assignment": %d, "answer": "left", "seconds": 2, "note": "\xed\xa0\x80"}' % assignment
    response = client.post("/api/submit", content=raw, headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]
    assert count(run_dir) == 0


# -- sessions bound to tokens (issue 11) --------------------------------------------------------------------
def token_app(root: Path, require_token: bool = True):
    return create_app(root, AppConfig(require_token=require_token, min_watch_s=0,
                                      queue=QueueConfig(gold_rate=0, repeat_rate=0)))


def test_rekeying_an_annotator_revokes_her_sessions(run_dir: Path) -> None:
    app = token_app(run_dir)
    old_token = app.state.service.queue.add_annotator("alice")
    bob_token = app.state.service.queue.add_annotator("bob")
    alice, bob = TestClient(app), TestClient(app)
    assert alice.get(f"/?token={old_token}", follow_redirects=False).status_code == 303
    assert bob.get(f"/?token={bob_token}", follow_redirects=False).status_code == 303
    assert alice.get("/api/next").status_code == 200 and alice.get("/").status_code == 200
    # `rlhf-robotics label token name=alice` does this from another process while the server runs.
    new_token = add_annotator(RunPaths(run_dir).app_db, "alice")
    assert alice.get("/api/next").status_code == 401
    assert alice.get("/").status_code == 401
    assert alice.get(f"/?token={old_token}").status_code == 401, "the old link is dead too"
    assert bob.get("/api/next").status_code == 200, "only alice's sessions end"
    assert alice.get(f"/?token={new_token}", follow_redirects=False).status_code == 303
    assert alice.get("/api/next").status_code == 200
    # A re-key through the running server's own queue ends sessions the same way.
    app.state.service.queue.add_annotator("alice")
    assert alice.get("/api/next").status_code == 401


def test_a_loopback_session_is_refused_once_the_run_is_served_with_tokens(run_dir: Path) -> None:
    loopback = app_client(run_dir)
    sign_in(loopback, "alice")
    cookies = dict(loopback.cookies)
    assert loopback.get("/api/next").status_code == 200
    loopback.app.state.service.close()
    served = TestClient(token_app(run_dir), cookies=cookies)
    assert served.get("/api/next").status_code == 401
    assert served.get("/").status_code == 401
    assert served.get("/api/stats").status_code == 401
    served.app.state.service.close()
    # Back on loopback without tokens, the same session works again (it was refused, not deleted).
    assert TestClient(token_app(run_dir, require_token=False), cookies=cookies).get("/api/next").status_code == 200


def test_the_app_database_holds_no_raw_session_id_or_csrf_value(run_dir: Path) -> None:
    app = token_app(run_dir)
    token = app.state.service.queue.add_annotator("alice")
    client = TestClient(app)
    client.get(f"/?token={token}")
    csrf = sign_in_csrf(client)
    session_id = client.cookies[SESSION_COOKIE]
    pair = client.get("/api/next").json()["assignments"][0]
    assert submit(client, csrf, pair["id"], "left").status_code == 200
    app_db = RunPaths(run_dir).app_db
    files = [p for p in (app_db, Path(f"{app_db}-wal")) if p.exists()]
    stored = b"".join(p.read_bytes() for p in files)
    for secret in (session_id, csrf, token):
        assert secret.encode() not in stored
    # ... while their hashes are there (so the search above looked in the right place).
    assert hashlib.sha256(session_id.encode()).hexdigest().encode() in stored
    assert hashlib.sha256(csrf.encode()).hexdigest().encode() in stored


def sign_in_csrf(client: TestClient) -> str:
    page = client.get("/")
    assert page.status_code == 200, page.text
    return json.loads(page.text.split('type="application/json">')[1].split("</script>")[0])["csrf"]


def test_the_csrf_value_survives_a_reload_and_belongs_to_one_session(run_dir: Path) -> None:
    client = app_client(run_dir)
    csrf = sign_in(client, "ann")
    assert sign_in_csrf(client) == csrf, "the page shows the same value on every load"
    other = TestClient(client.app)
    assert sign_in(other, "ann") != csrf, "each session has its own"
    pair = client.get("/api/next").json()["assignments"][0]
    assert submit(client, sign_in_csrf(other), pair["id"], "left").status_code == 403
    assert count(run_dir) == 0


def test_an_old_app_database_with_plaintext_sessions_still_opens(run_dir: Path) -> None:
    app_db = RunPaths(run_dir).app_db
    db = sqlite3.connect(app_db)
    db.executescript(
        "CREATE TABLE annotators (name TEXT PRIMARY KEY, token_sha256 TEXT UNIQUE NOT NULL, created REAL NOT NULL);"
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, annotator TEXT NOT NULL, csrf TEXT NOT NULL, created REAL NOT NULL);"
        "INSERT INTO sessions VALUES ('old-raw-session-id', 'ann', 'old-raw-csrf', 0);"
    )
    db.commit()
    db.close()
    client = TestClient(create_app(run_dir, AppConfig(min_watch_s=0)), cookies={SESSION_COOKIE: "old-raw-session-id"})
    assert client.get("/api/next").status_code == 401, "people sign in again after the upgrade"
    csrf = sign_in(client, "ann")
    pair = client.get("/api/next").json()["assignments"][0]
    assert submit(client, csrf, pair["id"], "left").status_code == 200
    client.app.state.service.close()
    stored = b"".join(p.read_bytes() for p in (app_db, Path(f"{app_db}-wal")) if p.exists())
    assert b"old-raw-session-id" not in stored and b"old-raw-csrf" not in stored
