"""A scripted person labels pairs in headless Chromium against a *live* preference run.

Starts ``rlhf-robotics labels.source=human`` (HalfCheetah-v5, the run serves the labelling app, renders the
clips of the pairs its selector asks about, and refits its reward model on the answers as they arrive while
PPO trains), opens the app in Debian's Chromium through Playwright, and answers ``--pairs`` pairs by keyboard
(← / →) the way a careful person would: by the hidden true return of the two clips shown (looked up from the
run's store through the clip index). Records the page's own answer → next-pair-ready times, how many reward
refits happened during the session and how many answers they used, and writes
``benchmarks/results/ui_live_session.json`` with commit, machine and date.

    .venv/bin/python benchmarks/ui_live_session.py [--pairs 50] [--watch-ms 1100]

The run is long (1M steps, 20 rounds) so it is still training when the session ends; it is then stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, WORK, app_url, provenance  # noqa: E402

from rlhf_robotics.preference.rundir import RunPaths  # noqa: E402
from rlhf_robotics.preference.store import PreferenceStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, dtype=float)
    return {"n": int(a.size), "median": round(float(np.median(a)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "max": round(float(a.max()), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--watch-ms", type=int, default=1100, help="time on each pair before answering (the app's minimum is 1 s)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    run = WORK / "ui_live_session"
    shutil.rmtree(run, ignore_errors=True)
    command = [sys.executable, "-m", "rlhf_robotics.cli.main", "env=halfcheetah", f"run_dir={run}", "labels.source=human",
               "labels.total=200", "labels.rounds=20", "labels.human_min_initial=10", "total_steps=1000000",
               "baseline=false", "video=false", "eval_episodes=2", "ui.port=0", "ui.gold_rate=0", "ui.repeat_rate=0",
               "quiet=true"]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "MUJOCO_GL": "egl"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    try:
        url = app_url(proc, log)
        store = PreferenceStore(RunPaths(run).store)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{url}/?annotator=scripted")
            t_start = time.time()
            metrics_before = _metric_rows(run)
            current = ""
            for n in range(args.pairs):
                page.wait_for_function("prev => document.body.dataset.ready === '1' && document.body.dataset.assignment !== prev",
                                       arg=current, timeout=300_000)
                current = page.evaluate("document.body.dataset.assignment")
                page.wait_for_timeout(args.watch_ms)
                left = Path(page.evaluate("document.querySelector('#media-left video').getAttribute('src')")).name
                right = Path(page.evaluate("document.querySelector('#media-right video').getAttribute('src')")).name
                returns = _returns_by_clip(run, store)
                page.keyboard.press("ArrowLeft" if returns[left] >= returns[right] else "ArrowRight")
                if n == args.pairs - 1:
                    page.wait_for_function(f"Number(document.body.dataset.acked || 0) >= {args.pairs}", timeout=60_000)
            session_s = time.time() - t_start
            timings = page.evaluate("labelApp.timings")
            errors = page.evaluate("labelApp.errors")
            browser.close()
        rows_during = _metric_rows(run)[len(metrics_before):]
        answers = store.count_judgments()
        store.close()
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = {
        "benchmark": "ui_live_session",
        "command": "python benchmarks/ui_live_session.py " + " ".join(sys.argv[1:]),
        "run_command": " ".join(command[2:]),
        "pairs_labelled": args.pairs,
        "judgments_in_store": answers,
        "submit_errors": errors,
        "watch_ms_per_pair": args.watch_ms,
        "answer_to_next_pair_ready_ms": percentiles(timings),
        "session_seconds": round(session_s, 1),
        "reward_model_refits_during_session": len(rows_during),
        "answers_used_by_each_refit": [r.get("reward_model/n_train", 0) + r.get("reward_model/n_val", 0) for r in rows_during],
        "browser": "Debian Chromium, headless, via Playwright",
        **provenance(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ui_live_session.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("judgments_in_store", "answer_to_next_pair_ready_ms", "session_seconds",
                                             "reward_model_refits_during_session", "answers_used_by_each_refit")}))


def _metric_rows(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _returns_by_clip(run: Path, store: PreferenceStore) -> dict[str, float]:
    """Clip file name → hidden true return of its segment (from the clip index and the queries' metadata)."""
    item_return: dict[str, float] = {}
    for sq in store.queries():
        m = sq.query.meta
        if "true_return_first" in m:
            item_return[sq.query.first] = m["true_return_first"]
            item_return[sq.query.second] = m["true_return_second"]
    out = {}
    for line in RunPaths(run).clip_index.read_text().splitlines():
        row = json.loads(line)
        if row["item"] in item_return:
            out[row["file"]] = item_return[row["item"]]
    return out


if __name__ == "__main__":
    main()
