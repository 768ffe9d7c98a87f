"""`rlhf-robotics labels.source=human`: a person labels through the real web app while the run trains."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rlhf_robotics.preference.store import PreferenceStore

GONE = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
"""What a request meets when the run has just ended and shut its app down: refused, or reset mid-request (seen once
in CI on a loaded machine: ``ReadError: Connection reset by peer``). The run's own exit code and stored labels are
asserted after."""


@pytest.mark.slow
@pytest.mark.render
def test_run_with_people_labelling_in_the_web_app(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhf_robotics.cli.main", "env=inverted_pendulum", f"run_dir={run}", "labels.source=human",
         "labels.total=12", "labels.rounds=2", "labels.initial_steps=400", "labels.human_min_initial=3",
         "labels.human_timeout_s=240", "total_steps=512", "env.n_envs=2", "ppo.n_steps=128", "ppo.batch_size=128",
         "ppo.n_epochs=1", "baseline=false", "video=false", "eval_episodes=1", "ui.port=0", "quiet=true"],
        cwd=tmp_path, env={**os.environ, "MUJOCO_GL": "egl"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            match = re.search(r"labelling app: (http://\S+)", line)
            url = match.group(1).rstrip("/") if match else None
        assert url, "the run never printed the labelling app's address"
        answered = 0
        with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as http:
            assert http.get("/?annotator=alice").status_code == 303
            page = http.get("/").text
            csrf = json.loads(re.search(r'type="application/json">(.*?)</script>', page, re.S).group(1))["csrf"]  # type: ignore[union-attr]
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    pairs = http.get("/api/next?n=1").json()["assignments"]
                except GONE:  # the run finished and took the app down with it (before or during the request)
                    break
                if not pairs:
                    time.sleep(0.2)
                    continue
                answer = ("left", "right", "tie")[answered % 3]
                try:
                    r = http.post("/api/submit", json={"assignment": pairs[0]["id"], "answer": answer, "seconds": 1.0},
                                  headers={"X-CSRF-Token": csrf})
                except GONE:  # the run ended between offering this pair and the answer
                    break
                assert r.status_code == 200, r.text
                answered += 1
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert answered >= 3
    rows = PreferenceStore(run / "preferences.sqlite").judgments()
    assert len(rows) >= answered and all(r.judgment.annotator == "human:alice" for r in rows)
    assert {r.judgment.shown_left for r in rows} <= {"first", "second"}
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    first_fit = metrics[0]
    assert first_fit["reward_model/n_train"] + first_fit["reward_model/n_val"] >= 2  # ties count, and 3 answers came first
    assert json.loads((run / "summary.json").read_text())["labels_used"] == 12
