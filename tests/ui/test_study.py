"""A study people can run (issue 16), through the HTTP API: the instruction above the clips, the briefing that
comes before the first pair, practice pairs that never reach the preference store, and slowed clips announced."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.testclient import TestClient

from rlhf_robotics.preference.rundir import RunPaths, add_clip, write_instruction
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, create_app
from rlhf_robotics.ui.app import render_briefing

from .conftest import build_run

NO_EXTRAS = QueueConfig(gold_rate=0.0, repeat_rate=0.0)


def client_for(root: Path, **config: object) -> TestClient:
    queue = config.pop("queue", NO_EXTRAS)
    config.setdefault("min_watch_s", 0.0)
    return TestClient(create_app(root, AppConfig(queue=queue, **config)))  # type: ignore[arg-type]


def close(client: TestClient) -> None:
    """Release the run (one server per run: the queue locks its database)."""
    client.app.state.service.close()  # type: ignore[attr-defined]


def page_config(text: str) -> dict:
    return json.loads(re.search(r'<script id="config" type="application/json">(.*?)</script>', text).group(1))


def submit(client: TestClient, csrf: str, assignment: int, answer: str):
    return client.post("/api/submit", json={"assignment": assignment, "answer": answer, "seconds": 2.0},
                       headers={"X-CSRF-Token": csrf})


def judgments(root: Path) -> list:
    with PreferenceStore(RunPaths(root).store) as store:
        return store.judgments()


def test_the_runs_instruction_is_shown_above_the_clips_and_a_study_can_override_it(run_dir: Path) -> None:
    write_instruction(run_dir, "The robot should hop forward <quickly>.")
    client = client_for(run_dir)
    page = client.get("/?annotator=ann")
    close(client)
    assert 'id="instruction"' in page.text
    assert "The robot should hop forward &lt;quickly&gt;." in page.text, "the instruction is escaped, not HTML"
    assert page.text.index('id="instruction"') < page.text.index('id="stage"'), "above the clips"
    page = client_for(run_dir, instruction="Judge the landing only.").get("/?annotator=ann")
    assert "Judge the landing only." in page.text and "hop forward" not in page.text


def test_no_instruction_no_box(run_dir: Path) -> None:
    assert 'id="instruction"' not in client_for(run_dir).get("/?annotator=ann").text


def test_briefing_comes_before_the_first_pair_and_agreement_is_recorded_per_annotator(run_dir: Path) -> None:
    briefing = "# Study\nYou will compare robots.\n\n- it takes 10 minutes\n- <script>alert(1)</script>"
    client = client_for(run_dir, briefing=briefing)
    page = client.get("/?annotator=ann")
    config = page_config(page.text)
    assert config["briefing"] is True
    assert "<h2>Study</h2>" in page.text and "<li>it takes 10 minutes</li>" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    refused = client.get("/api/next?n=1")
    assert refused.status_code == 409 and "briefing" in refused.json()["error"]
    assert client.post("/api/agree", json={}).status_code == 403, "agreeing is a post like any other: CSRF checked"
    assert client.post("/api/agree", json={}, headers={"X-CSRF-Token": config["csrf"]}).json() == {"agreed": True}
    assert client.get("/api/next?n=1").json()["assignments"], "pairs come once the annotator agreed"
    assert page_config(client.get("/").text)["briefing"] is False, "a reload does not ask again"
    close(client)
    other = client_for(run_dir, briefing=briefing)  # a restarted server remembers; another annotator must agree
    assert page_config(other.get("/?annotator=ann").text)["briefing"] is False
    assert page_config(other.get("/?annotator=bob").text)["briefing"] is True
    close(other)
    changed = client_for(run_dir, briefing=briefing + "\nNew paragraph.")
    assert page_config(changed.get("/?annotator=ann").text)["briefing"] is True, "a changed briefing asks again"


def test_agree_without_a_briefing_is_a_404(run_dir: Path) -> None:
    client = client_for(run_dir)
    csrf = page_config(client.get("/?annotator=ann").text)["csrf"]
    assert client.post("/api/agree", json={}, headers={"X-CSRF-Token": csrf}).status_code == 404


def test_render_briefing_escapes_everything_and_adds_only_structure() -> None:
    out = render_briefing('**Consent**: <img src=x onerror="alert(1)"> [link](javascript:alert(1))\n\n## Pay\n* 10 €')
    assert out.startswith("<p><strong>Consent</strong>: &lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    assert "<h3>Pay</h3>" in out and "<ul><li>10 €</li></ul>" in out
    assert "<a" not in out and "<img" not in out


def test_practice_pairs_come_first_show_the_answer_and_never_reach_the_store(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    build_run(root, n_queries=6)
    client = client_for(root, queue=QueueConfig(gold_rate=0.0, repeat_rate=0.0, practice_pairs=2))
    csrf = page_config(client.get("/?annotator=ann").text)["csrf"]
    service = client.app.state.service  # type: ignore[attr-defined]
    first = client.get("/api/next?n=3").json()["assignments"]
    assert [a.get("practice", False) for a in first] == [True, True, False]
    verdicts = []
    for pair, answer in zip(first[:2], ["left", "right"]):
        response = submit(client, csrf, pair["id"], answer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["judgment"] is None
        query = service.queue.queries[service.queue.assignments[pair["id"]].query_id].query
        assert query.gold_label is not None, "practice pairs are gold pairs"
        shown_left = service.queue.assignments[pair["id"]].shown_left
        right_side = "left" if query.gold_label == shown_left else "right"
        assert body["practice"] == {"correct": answer == right_side, "expected": right_side}
        verdicts.append(answer == right_side)
    assert judgments(root) == [], "practice answers are not judgments"
    kept = service.queue.practice_answers("ann")
    assert [bool(row["correct"]) for row in kept] == verdicts and len(kept) == 2
    # the ordinary pair counts; the practice ones stay out of the store, and undo skips them
    assert submit(client, csrf, first[2]["id"], "left").json()["judgment"] is not None
    assert [row.judgment.annotator for row in judgments(root)] == ["human:ann"]
    later = client.get("/api/next?n=3").json()["assignments"]
    assert not any(a.get("practice") for a in later), "two practice pairs, then none"
    assert client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf}).status_code == 409


def test_practice_is_skipped_when_no_gold_pair_can_be_made(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    build_run(root, n_queries=4, returns=False)  # no true returns: no gold, so no practice
    client = client_for(root, queue=QueueConfig(gold_rate=0.0, repeat_rate=0.0, practice_pairs=3))
    client.get("/?annotator=ann")
    pairs = client.get("/api/next?n=2").json()["assignments"]
    assert len(pairs) == 2 and not any(a.get("practice") for a in pairs)


def test_a_slowed_clip_is_announced_with_its_rate(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    build_run(root, n_queries=1)
    clips = RunPaths(root).clips
    add_clip(clips, "seg-0", "clip000.mp4", fps=30, rate=0.32)
    client = client_for(root)
    client.get("/?annotator=ann")
    (pair,) = client.get("/api/next?n=1").json()["assignments"]
    assert pair["rate"] == 0.32
    close(client)
    add_clip(clips, "seg-0", "clip000.mp4", fps=30)  # re-rendered in real time: the last line wins
    other = client_for(tmp_path / "run")
    other.get("/?annotator=ann")
    assert "rate" not in other.get("/api/next?n=1").json()["assignments"][0], "the open pair, now at real time"
