"""``rlhf-robotics label`` sub-commands, exports, and the real uvicorn server a training loop runs in a thread."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from rlhf_robotics.cli.main import entry
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, serve_in_background
from rlhf_robotics.ui.server import is_loopback

from .conftest import build_run
from .test_app import app_client, sign_in, submit


def label_some(root: Path, answers: list[str]) -> None:
    client = app_client(root)
    csrf = sign_in(client)
    for answer, pair in zip(answers, client.get(f"/api/next?n={len(answers)}").json()["assignments"], strict=True):
        assert submit(client, csrf, pair["id"], answer).status_code == 200
    client.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf})
    client.app.state.service.close()


def test_export_store_round_trip(run_dir: Path, tmp_path: Path) -> None:
    label_some(run_dir, ["left", "tie", "cant_tell"])
    out = tmp_path / "labels.jsonl"
    assert entry(["label", "export", f"run={run_dir}", f"out={out}"]) == 0
    with PreferenceStore(tmp_path / "copy.sqlite") as copy:
        assert copy.import_jsonl(out) == 4  # three answers and one undo row
        copy.export_jsonl(tmp_path / "again.jsonl")
        with PreferenceStore(RunPaths(run_dir).store) as original:
            assert copy.judgments() == original.judgments()
            assert copy.queries() == original.queries()
    assert out.read_text() == (tmp_path / "again.jsonl").read_text()


def test_export_trl_format_for_text_pairs(tmp_path: Path) -> None:
    build_run(tmp_path, n_queries=3, texts=True)
    client = app_client(tmp_path)
    csrf = sign_in(client)
    pairs = client.get("/api/next?n=3").json()["assignments"]
    for pair, answer in zip(pairs, ["left", "right", "tie"], strict=True):
        submit(client, csrf, pair["id"], answer)
    client.app.state.service.close()
    out = tmp_path / "trl.jsonl"
    assert entry(["label", "export", f"run={tmp_path}", f"out={out}", "format=trl"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2, "the tie is left out"
    by_prompt = {r["prompt"]: r for r in rows}
    assert by_prompt["What is 0 + 0?"]["chosen"] == pairs[0]["left"]["text"]
    assert by_prompt["What is 1 + 1?"]["chosen"] == pairs[1]["right"]["text"]
    assert set(rows[0]) >= {"prompt", "chosen", "rejected"}


def test_export_errors_name_the_fix(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["format=trl"], "format=store"),
        (["format=csv"], "format='csv': allowed values are 'store', 'trl', 'datasets'"),
        (["colour=red"], "Could not override 'colour'"),
    ]
    for extra, message in cases:
        assert entry(["label", "export", f"run={run_dir}", f"out={tmp_path / 'x.jsonl'}", *extra]) == 2
        assert message in capsys.readouterr().err
    assert entry(["label", "export", f"run={run_dir}"]) == 2
    assert "out=...: missing" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_token_command_and_stats(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert entry(["label", "token", f"run={run_dir}", "name=ann", "port=9000"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://127.0.0.1:9000/?token=")
    token = link.split("token=")[1]
    server = serve_in_background(run_dir, config=AppConfig(require_token=True, min_watch_s=0,
                                                           queue=QueueConfig(gold_rate=0, repeat_rate=0)))
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers) as http:
            assert http.get("api/next", headers={"Authorization": "Bearer nope"}).status_code == 401
            pair = http.get("api/next").json()["assignments"][0]
            assert http.post("api/submit", json={"assignment": pair["id"], "answer": "left"}).status_code == 200
    finally:
        server.stop()
    assert entry(["label", "stats", f"run={run_dir}"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["judgments"] == 1 and stats["per_annotator"][0]["annotator"] == "human:ann"


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_reader_follows_the_cursor_while_the_server_runs(tmp_path: Path) -> None:
    """The trainer's view: a separate store connection reading judgments by cursor as people answer."""
    build_run(tmp_path, n_queries=20)
    server = serve_in_background(tmp_path, config=AppConfig(min_watch_s=0, queue=QueueConfig(gold_rate=0, repeat_rate=0)))
    seen: list[int] = []
    stop = threading.Event()

    def trainer() -> None:
        cursor = 0
        with PreferenceStore(RunPaths(tmp_path).store) as store:
            while not stop.is_set() or store.judgments(after=cursor):
                for row in store.judgments(after=cursor):
                    seen.append(row.id)
                    cursor = row.id
                time.sleep(0.005)

    reader = threading.Thread(target=trainer)
    reader.start()
    progress = []
    try:
        with httpx.Client(base_url=server.url, follow_redirects=True) as http:
            page = http.get("?annotator=ann")
            csrf = json.loads(page.text.split('type="application/json">')[1].split("</script>")[0])["csrf"]
            for _ in range(20):
                pair = http.get("api/next").json()["assignments"][0]
                r = http.post("api/submit", json={"assignment": pair["id"], "answer": "right", "seconds": 1.0},
                              headers={"X-CSRF-Token": csrf})
                assert r.status_code == 200
                time.sleep(0.01)
                progress.append(len(seen))
    finally:
        stop.set()
        reader.join(5)
        server.stop()
    assert sorted(seen) == seen and len(seen) == len(set(seen)) == 20
    assert progress[9] >= 5, "labels reached the reader while the session was still running"
    assert not server.thread.is_alive()


def test_serve_arguments_are_checked(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in [
        ([f"run={run_dir}", "overlap=0"], "overlap must be >= 1"),
        ([str(run_dir)], f"Error parsing override {str(run_dir)!r}"),  # not key=value
        ([f"run={run_dir}", "require_token=maybe"], "require_token='maybe': expected true or false"),
    ]:
        assert entry(["label", *args]) == 2
        assert message in capsys.readouterr().err
