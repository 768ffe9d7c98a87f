"""The dashboard's plots (issue 16): the series computed by hand on a tiny store, the read-only JSON route, and
in Chromium (slow) every plot drawn with data from a run directory."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rlhf_robotics.preference.records import Judgment, Query, StoredJudgment
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, create_app, serve_in_background
from rlhf_robotics.ui.quality import dashboard_series

from .conftest import build_run

METRICS = [
    {"round": 0, "step": 0, "reward_model/val_accuracy": 0.5, "reward_model/gold_accuracy": 0.5},
    {"round": 1, "step": 2048, "policy/return_true": -100.0, "policy/return_learned": 3.0,
     "reward_model/val_accuracy": float("nan"), "reward_model/gold_accuracy": 1.0},
]


def judged(*answers: tuple[int, str, str, float]) -> list[StoredJudgment]:
    """(query id, annotator, label, time) → stored judgments."""
    return [StoredJudgment(i, Judgment(q, label, f"human:{a}", created=t))  # type: ignore[arg-type]
            for i, (q, a, label, t) in enumerate(answers, start=1)]


def test_series_by_hand() -> None:
    queries = {1: Query("a", "b", gold_label="first"), 2: Query("c", "d")}
    rows = judged((1, "x", "first", 1000.0), (2, "x", "first", 1030.0), (1, "y", "second", 1070.0), (2, "y", "first", 1130.0))
    d = dashboard_series(rows, queries, METRICS, now=1180.0, max_points=3)
    # 180 s since the first answer in 60 s bins (the narrowest of 10/30/60 s giving <= 3 bins): x answered twice
    # in the first minute, y once in the second and third.
    assert d["pace"] == {"bin_s": 60.0, "t": [0.0, 60.0, 120.0],
                         "per_minute": {"human:x": [2.0, 0.0, 0.0], "human:y": [0.0, 1.0, 1.0]}}
    # Agreement over every answer so far: nothing shared after 1 min; then q1 disagreed; then q2 agreed too.
    assert [a["raw"] for a in d["agreement"]] == [None, 0.0, 0.5]
    assert [a["shared"] for a in d["agreement"]] == [0, 1, 2]
    assert [a["t"] for a in d["agreement"]] == [60.0, 120.0, 180.0]
    # The open bin counts over the time it has run: 25 s after the first minute began, 1 answer = 2.4 a minute.
    short = dashboard_series(rows[:3], queries, [], now=1085.0, max_points=2)
    assert short["pace"]["per_minute"] == {"human:x": [2.0, 0.0], "human:y": [0.0, 2.4]}
    assert d["curve"][0] == {"step": 0, "round": 0, "return_true": None, "return_learned": None, "gold_accuracy": 0.5,
                             "val_accuracy": 0.5}
    assert d["curve"][1]["return_true"] == -100.0 and d["curve"][1]["val_accuracy"] is None  # nan → null
    rel = {r["annotator"]: r for r in d["reliability"]}
    assert rel["human:x"]["reliability"] > rel["human:y"]["reliability"], "x got the gold question right, y did not"
    assert (rel["human:x"]["answers"], rel["human:x"]["gold_answers"]) == (2, 1)
    json.dumps(d, allow_nan=False)  # JSON-safe


def test_long_sessions_get_wider_bins_and_teachers_are_left_out() -> None:
    rows = judged(*[(1, "x", "first", 3600.0 * k / 10) for k in range(11)]) + [
        StoredJudgment(99, Judgment(1, "first", "teacher:oracle", created=0.0))]
    d = dashboard_series(rows, {1: Query("a", "b")}, [], now=3600.0, max_points=20)
    assert d["pace"]["bin_s"] == 300.0 and len(d["pace"]["t"]) == 12  # 60 min in <= 20 bins → 5-minute bins
    assert list(d["pace"]["per_minute"]) == ["human:x"] and math.isclose(sum(d["pace"]["per_minute"]["human:x"]) * 5, 11)
    assert d["curve"] == [] and [r["annotator"] for r in d["reliability"]] == ["human:x"]


def fill_run(root: Path) -> None:
    """A run directory with 6 queries (one gold), answers by two annotators and two rounds of metrics."""
    ids = build_run(root, n_queries=6)
    with PreferenceStore(RunPaths(root).store) as store:
        gold = store.add_queries([Query("seg-0", "seg-11", gold_label="second")])[0]
        for k, q in enumerate(ids + [gold]):
            store.add_judgment(Judgment(q, "second", "human:careful", shown_left="first", created=1000.0 + 20 * k))
            store.add_judgment(Judgment(q, "second" if k % 2 else "first", "human:coin", shown_left="second",
                                        created=1010.0 + 20 * k))
    RunPaths(root).metrics.write_text("".join(json.dumps(m) + "\n" for m in METRICS) + '{"round": 2, "ste')


def test_route_reads_the_run_and_tolerates_a_half_written_row(tmp_path: Path) -> None:
    fill_run(tmp_path)
    client = TestClient(create_app(tmp_path, AppConfig(queue=QueueConfig(gold_rate=0, repeat_rate=0))))
    r = client.get("/api/dashboard")
    assert r.status_code == 200
    d = r.json()
    assert [c["round"] for c in d["curve"]] == [0, 1]
    assert set(d["pace"]["per_minute"]) == {"human:careful", "human:coin"}
    rel = {x["annotator"]: x["reliability"] for x in d["reliability"]}
    assert rel["human:careful"] > rel["human:coin"] + 0.1, "the gold question (last) tells them apart"
    page = client.get("/dashboard")
    assert page.status_code == 200 and 'id="plot-reliability"' in page.text and "cdn" not in page.text.lower()


@pytest.mark.slow
def test_plots_render_with_data_in_chromium(tmp_path: Path) -> None:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(chromium).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed at {chromium}; CI=true requires the browser tests to run")
        pytest.skip(f"Chromium is not installed at {chromium}")
    from playwright.sync_api import sync_playwright

    fill_run(tmp_path)
    server = serve_in_background(tmp_path, config=AppConfig(queue=QueueConfig(gold_rate=0, repeat_rate=0)))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}dashboard" if server.url.endswith("/") else f"{server.url}/dashboard")
            page.wait_for_function("Number(document.body.dataset.plotted || 0) >= 1", timeout=60_000)
            points = page.evaluate("Object.fromEntries([...document.querySelectorAll('svg.plot')].map("
                                   "s => [s.id, [Number(s.dataset.points), s.querySelectorAll('polyline, rect.bar').length]]))")
            assert points["plot-curve"] == [2, 2], points  # round 1's true and learned return
            assert points["plot-gold"][0] == 3 and points["plot-gold"][1] == 2
            assert points["plot-pace"][0] > 0 and points["plot-pace"][1] == 2
            assert points["plot-agreement"][0] > 0 and points["plot-agreement"][1] >= 1
            assert points["plot-reliability"] == [2, 2]
            labels = page.locator("#plot-reliability text").all_text_contents()
            assert any(t == "careful" for t in labels) and any(t == "coin" for t in labels)
            # the plots follow the store: a new annotator appears at the next poll
            with PreferenceStore(RunPaths(tmp_path).store) as store:
                store.add_judgment(Judgment(1, "second", "human:late", created=1200.0))
            page.wait_for_function("document.querySelectorAll('#plot-reliability rect.bar').length === 3", timeout=60_000)
            assert not errors, errors
            browser.close()
    finally:
        server.stop()


def test_route_needs_a_sign_in_where_tokens_are_required(tmp_path: Path) -> None:
    fill_run(tmp_path)
    client = TestClient(create_app(tmp_path, AppConfig(require_token=True, queue=QueueConfig(gold_rate=0, repeat_rate=0))))
    r = client.get("/api/dashboard")
    assert r.status_code == 401 and "not signed in" in r.json()["error"]
