"""The labelling app's HTTP API through Starlette's TestClient: answers, undo, leases, gold, repeats, status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rlhf_robotics.preference.records import current_judgments
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, create_app, write_status

from .conftest import build_run

NO_EXTRAS = QueueConfig(gold_rate=0.0, repeat_rate=0.0)


def app_client(root: Path, **config: object) -> TestClient:
    queue = config.pop("queue", NO_EXTRAS)
    config.setdefault("min_watch_s", 0.0)
    return TestClient(create_app(root, AppConfig(queue=queue, **config)))  # type: ignore[arg-type]


def sign_in(client: TestClient, name: str = "ann") -> str:
    """Open the page as ``name``; returns the CSRF token the page embeds."""
    page = client.get(f"/?annotator={name}")
    assert page.status_code == 200, page.text
    config = json.loads(re.search(r'<script id="config" type="application/json">(.*?)</script>', page.text).group(1))
    assert config["annotator"] == name
    return config["csrf"]


def submit(client: TestClient, csrf: str, assignment: int, answer: str, **extra: object):
    body = {"assignment": assignment, "answer": answer, "seconds": 2.0, **extra}
    return client.post("/api/submit", json=body, headers={"X-CSRF-Token": csrf})


def store_rows(root: Path):
    with PreferenceStore(RunPaths(root).store) as store:
        return store.judgments()


def test_answer_is_stored_relative_to_first_second(run_dir: Path) -> None:
    client = app_client(run_dir)
    csrf = sign_in(client)
    response = client.get("/api/next?n=6")
    assert response.headers["server-timing"].startswith("app;dur=")
    pairs = response.json()["assignments"]
    assert len(pairs) == 6
    with PreferenceStore(RunPaths(run_dir).store) as store:
        queries = {sq.id: sq.query for sq in store.queries()}
    sides = []
    for pair in pairs:
        assert submit(client, csrf, pair["id"], "left").status_code == 200
    rows = store_rows(run_dir)
    assert len(rows) == 6
    for pair, row in zip(pairs, rows, strict=True):
        j = row.judgment
        q = queries[j.query_id]
        left_item = q.first if j.shown_left == "first" else q.second
        # The clip on the left is the item the stored shown_left names; "left" means that item won.
        assert pair["left"]["src"] == f"clips/clip{int(left_item.split('-')[1]):03d}.mp4"
        assert j.label == j.shown_left
        assert j.annotator == "human:ann" and j.seconds == 2.0
        sides.append(j.shown_left)
    assert set(sides) == {"first", "second"}, "sides are randomised per assignment"


def test_tie_cant_tell_skip_and_rubric(tmp_path: Path) -> None:
    build_run(tmp_path)
    (tmp_path / "rubric.json").write_text(json.dumps([{"name": "upright", "question": "Which stays upright?"}]))
    client = app_client(tmp_path)
    csrf = sign_in(client)
    a, b, c = client.get("/api/next?n=3").json()["assignments"]
    assert submit(client, csrf, a["id"], "tie", rubric={"upright": "left"}, note="both fine").status_code == 200
    assert submit(client, csrf, b["id"], "cant_tell").status_code == 200
    assert submit(client, csrf, c["id"], "skip", seconds=0.0).status_code == 200
    rows = [r.judgment for r in store_rows(tmp_path)]
    assert [j.label for j in rows] == ["tie", "cant_tell", "skip"]
    assert rows[0].rubric == {"upright": rows[0].shown_left} and rows[0].note == "both fine"
    assert "Which stays upright?" in client.get("/").text


def test_priority_order_and_no_double_lease(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=4, priorities=[0.1, 5.0, 1.0, 3.0])
    client = app_client(tmp_path)
    sign_in(client, "ann")
    other = TestClient(client.app)
    sign_in(other, "bob")
    queue = client.app.state.service.queue
    first = client.get("/api/next?n=2").json()["assignments"]
    second = other.get("/api/next?n=2").json()["assignments"]
    assert [queue.assignments[p["id"]].query_id for p in first] == [2, 4], "highest priority first"
    assert [queue.assignments[p["id"]].query_id for p in second] == [3, 1]
    # Asking again returns the same open leases, not new pairs.
    assert [p["id"] for p in client.get("/api/next?n=2").json()["assignments"]] == [p["id"] for p in first]


def test_overlap_gives_a_query_to_several_annotators(run_dir: Path) -> None:
    app = create_app(run_dir, AppConfig(min_watch_s=0, queue=QueueConfig(overlap=2, gold_rate=0, repeat_rate=0)))
    ann, bob, cat = TestClient(app), TestClient(app), TestClient(app)
    for client, name in ((ann, "ann"), (bob, "bob"), (cat, "cat")):
        sign_in(client, name)
    q = app.state.service.queue
    get = lambda c: q.assignments[c.get("/api/next").json()["assignments"][0]["id"]].query_id  # noqa: E731
    assert get(ann) == get(bob) == 1
    assert get(cat) == 2


def test_expired_lease_goes_to_someone_else_and_late_submit_is_refused(run_dir: Path) -> None:
    app = create_app(run_dir, AppConfig(min_watch_s=0, queue=QueueConfig(lease_s=1e-6, gold_rate=0, repeat_rate=0)))
    ann, bob = TestClient(app), TestClient(app)
    csrf = sign_in(ann, "ann")
    sign_in(bob, "bob")
    mine = ann.get("/api/next").json()["assignments"][0]
    theirs = bob.get("/api/next").json()["assignments"][0]
    q = app.state.service.queue
    assert q.assignments[mine["id"]].query_id == q.assignments[theirs["id"]].query_id
    late = submit(ann, csrf, mine["id"], "left")
    assert late.status_code == 409 and "another annotator" in late.json()["error"]
    assert store_rows(run_dir) == []


def test_undo_supersedes_and_reopens_with_the_same_sides(run_dir: Path) -> None:
    client = app_client(run_dir)
    csrf = sign_in(client)
    pair = client.get("/api/next").json()["assignments"][0]
    assert submit(client, csrf, pair["id"], "left").status_code == 200
    undo = client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf})
    assert undo.status_code == 200
    reopened = undo.json()["assignment"]
    assert reopened["left"] == pair["left"] and reopened["right"] == pair["right"]
    assert client.get("/api/next").json()["assignments"][0]["id"] == reopened["id"], "the undone pair comes first"
    assert submit(client, csrf, reopened["id"], "right").status_code == 200
    rows = store_rows(run_dir)
    assert [r.judgment.label for r in rows][1] == "skip" and rows[1].judgment.note == "undo"
    assert rows[1].judgment.supersedes == rows[0].id and rows[2].judgment.supersedes == rows[1].id
    current = current_judgments(rows)
    assert len(current) == 1 and current[0].judgment.label != rows[0].judgment.label
    nothing = client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf})
    assert nothing.status_code == 200  # the re-answer itself can be undone
    client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf})


def test_empty_queue_explains_why(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=3, with_clips=False)
    write_status(tmp_path, "rendering", "rendering 3 clips", round=2)
    client = app_client(tmp_path)
    sign_in(client)
    body = client.get("/api/next?n=3").json()
    assert body["assignments"] == []
    assert body["status"]["state"] == "rendering" and body["status"]["round"] == 2
    assert body["status"]["message"] == "rendering 3 clips (3 pairs waiting for their clips)"
    write_status(tmp_path, "waiting_for_policy")
    assert "waiting for the policy" in client.get("/api/status").json()["message"]


def test_clips_registered_later_become_servable(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=1, with_clips=False)
    client = app_client(tmp_path)
    sign_in(client)
    assert client.get("/api/next").json()["assignments"] == []
    from rlhf_robotics.ui import register_clip

    for i in range(2):
        (tmp_path / "clips" / f"c{i}.mp4").write_bytes(b"\0" * 10)
        register_clip(tmp_path, f"seg-{i}", f"c{i}.mp4", fps=10)
    pair = client.get("/api/next").json()["assignments"][0]
    assert pair["kind"] == "video" and pair["fps"] == 10


def test_text_pairs_are_shown_as_text(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=2, texts=True)
    client = app_client(tmp_path)
    csrf = sign_in(client)
    pair = client.get("/api/next").json()["assignments"][0]
    assert pair["kind"] == "text" and pair["prompt"] == "What is 0 + 0?"
    assert {pair["left"]["text"], pair["right"]["text"]} == {"0", "1"}
    answer = "left" if pair["left"]["text"] == "1" else "right"
    assert submit(client, csrf, pair["id"], answer).status_code == 200
    assert store_rows(tmp_path)[0].judgment.label == "second"


def test_gold_is_made_from_true_returns_and_mixed_in(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=6)
    client = app_client(tmp_path, queue=QueueConfig(gold_rate=1.0, repeat_rate=0.0, gold_min_gap_std=1.0))
    csrf = sign_in(client)
    pairs = client.get("/api/next?n=3").json()["assignments"]
    with PreferenceStore(RunPaths(tmp_path).store) as store:
        gold = [sq for sq in store.queries() if sq.query.gold_label is not None]
    assert len(gold) >= 3
    for sq in gold:
        r1, r2 = sq.query.meta["true_return_first"], sq.query.meta["true_return_second"]
        assert abs(r1 - r2) >= 3.4  # 1 std of returns 0..11
        assert sq.query.gold_label == ("first" if r1 > r2 else "second")
    q = client.app.state.service.queue
    assert all(q.assignments[p["id"]].kind == "gold" for p in pairs)
    assert all("gold" not in json.dumps(p) for p in pairs), "gold is unannounced"
    for p in pairs:
        submit(client, csrf, p["id"], "left")
    stats = client.get("/api/stats").json()["quality"]
    assert stats["per_annotator"][0]["gold_answered"] == 3


def test_mirrored_repeat_measures_self_consistency(run_dir: Path) -> None:
    client = app_client(run_dir, queue=QueueConfig(gold_rate=0.0, repeat_rate=1.0))
    csrf = sign_in(client)
    first = client.get("/api/next").json()["assignments"][0]
    submit(client, csrf, first["id"], "left")
    repeat = client.get("/api/next").json()["assignments"][0]
    q = client.app.state.service.queue
    a, b = q.assignments[first["id"]], q.assignments[repeat["id"]]
    assert b.kind == "repeat" and b.query_id == a.query_id and b.shown_left != a.shown_left
    assert repeat["left"] == first["right"]
    submit(client, csrf, repeat["id"], "right")  # the same item again: consistent
    me = client.get("/api/stats").json()["quality"]["per_annotator"][0]
    assert me["repeats"] == 1 and me["self_consistency"] == 1.0 and me["left_rate"] == 0.5


def test_stats_report_agreement(run_dir: Path) -> None:
    app = create_app(run_dir, AppConfig(min_watch_s=0, queue=QueueConfig(overlap=2, gold_rate=0, repeat_rate=0)))
    clients = {name: TestClient(app) for name in ("ann", "bob")}
    q = app.state.service.queue
    for name, c in clients.items():
        csrf = sign_in(c, name)
        for p in c.get("/api/next?n=4").json()["assignments"]:
            # Both prefer the first item on queries 1-3; on query 4 they disagree.
            qid, shown = q.assignments[p["id"]].query_id, q.assignments[p["id"]].shown_left
            wants_first = qid != 4 or name == "ann"
            submit(c, csrf, p["id"], "left" if (shown == "first") == wants_first else "right")
    quality = clients["ann"].get("/api/stats").json()["quality"]
    assert quality["shared_queries"] == 4 and quality["agreement_raw"] == 0.75
    assert "Krippendorff" in clients["ann"].get("/dashboard").text


def test_assignments_and_sides_survive_a_restart(run_dir: Path) -> None:
    client = app_client(run_dir)
    sign_in(client)
    before = client.get("/api/next?n=2").json()["assignments"]
    cookies = dict(client.cookies)
    client.app.state.service.close()
    again = TestClient(create_app(run_dir, AppConfig(min_watch_s=0, queue=NO_EXTRAS)), cookies=cookies)
    assert again.get("/api/next?n=2").json()["assignments"] == before



def test_a_second_server_on_the_same_run_is_refused(run_dir: Path) -> None:
    app = create_app(run_dir)
    with pytest.raises(ValueError, match="another labelling server"):
        create_app(run_dir)
    app.state.service.close()
    create_app(run_dir).state.service.close()


def test_an_answer_stored_before_a_crash_is_not_served_again(run_dir: Path) -> None:
    client = app_client(run_dir)
    sign_in(client)
    pair = client.get("/api/next").json()["assignments"][0]
    queue = client.app.state.service.queue
    a = queue.assignments[pair["id"]]
    # The store write happened, the app-database update did not (the process died in between).
    from rlhf_robotics.preference.records import Judgment

    queue.store.add_judgment(Judgment(a.query_id, "first", "human:ann", a.shown_left, created=a.issued + 1))
    cookies = dict(client.cookies)
    client.app.state.service.close()
    again = TestClient(create_app(run_dir, AppConfig(min_watch_s=0, queue=NO_EXTRAS)), cookies=cookies)
    fresh = again.get("/api/next").json()["assignments"][0]
    assert again.app.state.service.queue.assignments[fresh["id"]].query_id != a.query_id
    assert again.app.state.service.queue.assignments[pair["id"]].state == "done"
