"""Benchmarks of the labelling app (issue 4), on loopback only.

Two parts, each against a real uvicorn server started by ``rlhf-robotics label`` in its own process:

``load``     16 concurrent annotator clients × 200 judgments each (three runs by default) (GET next pair, POST the answer), then the store
             is counted: 3,200 rows, none lost (every acknowledged submit is a row) or duplicated (no query answered
             twice by one annotator, no ordinary query by two). Reports p50/p95/p99 latency of next-pair and
             submit as the clients saw them. Goal: p95 ≤ 20 ms. → ``benchmarks/results/ui_load.json``
``session``  headless Chromium labels 50 pairs by keyboard (answering by the hidden true return, after a short
             "watch" pause per pair) while a trainer process follows the store's cursor and refits a reward
             ensemble (the core's ``train_ensemble`` on toy segment features) whenever labels arrive. Reports the
             time from the answer key to the next pair being ready to play (median, p95) and the reward-model
             updates that happened during the session. → ``benchmarks/results/ui_session.json``

Run::

    .venv/bin/python benchmarks/ui_load.py            # both parts
    .venv/bin/python benchmarks/ui_load.py --part load --clients 16 --per-client 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, WORK, provenance  # noqa: E402

from rlhf_robotics.preference.records import Query  # noqa: E402
from rlhf_robotics.preference.rundir import RunPaths, register_clip, write_status  # noqa: E402
from rlhf_robotics.preference.store import PreferenceStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "max_ms": round(float(a.max()), 3),
            "mean_ms": round(float(a.mean()), 3)}


def start_server(run: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``rlhf-robotics label`` in its own process; returns once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhf_robotics.cli.main", "label", f"run={run}", "host=127.0.0.1", f"port={port}", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the label server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the label server did not answer within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def fresh_run(name: str) -> Path:
    run = WORK / name
    shutil.rmtree(run, ignore_errors=True)
    (run / "clips").mkdir(parents=True)
    return run


# ---- load ------------------------------------------------------------------------------------------------
class RawHTTP:
    """A minimal keep-alive HTTP/1.1 client over asyncio streams.

    httpx's client costs several times the server's ~0.5 ms of CPU per request, so with 16 clients on a small
    machine it would measure itself; this one sends bytes and parses Content-Length, nothing more.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if self.cookie:
            lines.append(f"Cookie: {self.cookie}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        got: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                got[k.strip().lower()] = v.strip()
                if k.strip().lower() == "set-cookie":
                    self.cookie = v.strip().split(";", 1)[0]
        data = await self.reader.readexactly(int(got.get("content-length", "0")))
        return int(status_line.split()[1]), got, data

    def close(self) -> None:
        self.writer.close()


def app_ms(headers: dict[str, str]) -> float:
    """The server's own time for a request, from its ``Server-Timing: app;dur=<ms>`` header."""
    return float(headers["server-timing"].split("dur=")[1])


async def annotator(port: int, name: str, n: int, next_ms: list[float], submit_ms: list[float],
                    acked: list[tuple[str, int, int]], inside: list[float]) -> None:
    http = RawHTTP(port)
    await http.open()
    status, headers, _ = await http.request("GET", f"/?annotator={name}")
    assert status == 303, status
    status, _, page = await http.request("GET", "/")
    csrf = json.loads(re.search(r'type="application/json">(.*?)</script>', page.decode()).group(1))["csrf"]  # type: ignore[union-attr]
    for k in range(n):
        t0 = time.perf_counter()
        status, h_next, data = await http.request("GET", "/api/next?n=1")
        t1 = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"next pair: HTTP {status} {data!r}")
        pair = json.loads(data)["assignments"][0]
        answer = ("left", "right", "tie", "left", "right")[k % 5]
        body = json.dumps({"assignment": pair["id"], "answer": answer, "seconds": 1.0}).encode()
        status, h_submit, data = await http.request("POST", "/api/submit", body, {"X-CSRF-Token": csrf})
        t2 = time.perf_counter()
        inside += [app_ms(h_next), app_ms(h_submit)]
        if status != 200:
            raise RuntimeError(f"submit: HTTP {status} {data!r}")
        next_ms.append(1000 * (t1 - t0))
        submit_ms.append(1000 * (t2 - t1))
        acked.append((name, pair["id"], json.loads(data)["judgment"]))
    http.close()


async def run_clients(port: int, clients: int, per_client: int) -> tuple[list[float], list[float], list[tuple[str, int, int]], float, list[float]]:
    inside: list[float] = []
    next_ms: list[float] = []
    submit_ms: list[float] = []
    acked: list[tuple[str, int, int]] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(annotator(port, f"client{c:02d}", per_client, next_ms, submit_ms, acked, inside) for c in range(clients)))
    return next_ms, submit_ms, acked, time.perf_counter() - t0, inside


def load_part(clients: int, per_client: int) -> dict[str, Any]:
    run = fresh_run("ui_load")
    total = clients * per_client
    n_queries = int(total * 1.2)
    queries = [Query(f"seg-{2 * k}", f"seg-{2 * k + 1}", selector="disagreement", score=1.0, priority=float(n_queries - k),
                     meta={"true_return_first": float(k % 97), "true_return_second": float((k * 7) % 89)})
               for k in range(n_queries)]
    with PreferenceStore(RunPaths(run).store) as store:
        store.add_queries(queries)
    payload = os.urandom(50_000)
    lines = []
    for i in range(2 * n_queries):  # fake clip bytes: the load test never downloads clips
        (run / "clips" / f"c{i}.mp4").write_bytes(payload)
        lines.append(json.dumps({"item": f"seg-{i}", "file": f"c{i}.mp4"}))
    (run / "clips" / "index.jsonl").write_text("\n".join(lines) + "\n")
    write_status(run, "labelling", "load test")
    port = free_port()
    server = start_server(run, port, "min_watch_s=0", "gold_rate=0.1", "repeat_rate=0")
    try:
        cpu0, client_cpu0, load_before = cpu_seconds(server.pid), time.process_time(), os.getloadavg()[0]
        next_ms, submit_ms, acked, wall, inside = asyncio.run(run_clients(port, clients, per_client))
        server_cpu, client_cpu = cpu_seconds(server.pid) - cpu0, time.process_time() - client_cpu0
        load_after = os.getloadavg()[0]
    finally:
        stop_server(server)
    with PreferenceStore(RunPaths(run).store) as store:
        rows = store.judgments()
        gold_ids = {sq.id for sq in store.queries() if sq.query.gold_label is not None}
    ids = [r.id for r in rows]
    pairs = [(r.judgment.annotator, r.judgment.query_id) for r in rows]
    ordinary = [r.judgment.query_id for r in rows if r.judgment.query_id not in gold_ids]
    acked_ids = {j for _, _, j in acked}
    return {
        "clients": clients,
        "judgments_per_client": per_client,
        "submits_acknowledged": len(acked),
        "rows_in_store": len(rows),
        "rows_expected": total,
        "lost": len(acked_ids - set(ids)),
        "unacknowledged_rows": len(set(ids) - acked_ids),
        "duplicate_row_ids": len(ids) - len(set(ids)),
        "same_annotator_same_query_twice": len(pairs) - len(set(pairs)),
        "ordinary_queries_answered_twice": len(ordinary) - len(set(ordinary)),
        "gold_answers": len(rows) - len(ordinary),
        "next_pair_latency": percentiles(next_ms),
        "submit_latency": percentiles(submit_ms),
        "time_inside_app_per_request": percentiles(inside),
        "wall_s": round(wall, 3),
        "judgments_per_s": round(len(acked) / wall, 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / (2 * len(acked)), 3),
        "client_cpu_ms_per_request": round(1000 * client_cpu / (2 * len(acked)), 3),
        "load_average_1min_before_after": [round(load_before, 2), round(load_after, 2)],
        "goal_p95_ms": 20.0,
        "server": "rlhf-robotics label (uvicorn, one process) on 127.0.0.1; clients: 16 keep-alive connections from one asyncio process (a minimal HTTP/1.1 client), no think time",
    }


# ---- session ---------------------------------------------------------------------------------------------
FEATURE_DIM, STEPS = 4, 15


def item_features(n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Toy segments ``(N, T, D)`` whose true return is the sum of feature 0 over the steps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_items, STEPS, FEATURE_DIM)).astype(np.float32)
    x[:, :, 0] += rng.normal(scale=1.5, size=(n_items, 1))
    return x, x[:, :, 0].sum(axis=1)


def trainer(run: str, n_items: int, stop: Any, out: str) -> None:
    """A reward-model trainer that follows the store's cursor and refits whenever new labels arrive."""
    import torch

    from rlhf_robotics.preference import (
        PairDataset,
        RewardTrainerConfig,
        aggregate_targets,
        build_step_ensemble,
        train_ensemble,
    )

    torch.set_num_threads(1)
    x, returns = item_features(n_items)
    items = torch.as_tensor(x)
    ensemble = build_step_ensemble(FEATURE_DIM, 3, seed=0)
    config = RewardTrainerConfig(epochs=15, batch_size=32)
    rng = np.random.default_rng(0)
    updates = []
    cursor = 0
    rows: list[Any] = []
    with PreferenceStore(RunPaths(Path(run)).store) as store:
        queries = {}
        while True:
            new = store.judgments(after=cursor)
            if not new:
                if stop.is_set():
                    break
                time.sleep(0.05)
                continue
            rows += new
            cursor = new[-1].id
            for sq in store.queries():
                queries[sq.id] = sq.query
            targets = aggregate_targets(rows)
            if not targets:
                continue
            qids = sorted(targets)
            first = torch.tensor([int(queries[q].first.split("-")[1]) for q in qids])
            second = torch.tensor([int(queries[q].second.split("-")[1]) for q in qids])
            target = torch.tensor([targets[q] for q in qids])
            t0 = time.time()
            metrics = train_ensemble(ensemble, PairDataset(items, first, second, target), config, rng)
            with torch.no_grad():
                predicted = ensemble.item_scores(items).mean(0).numpy()
            updates.append({"time": t0, "seconds": round(time.time() - t0, 3), "labels": len(qids), "cursor": cursor,
                            "train_accuracy": metrics.train_accuracy,
                            "corr_with_true_return": float(np.corrcoef(predicted, returns)[0, 1])})
    Path(out).write_text(json.dumps(updates))


def session_part(pairs: int, watch_ms: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.ui.conftest import make_clip

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    run = fresh_run("ui_session")
    n_items = 2 * (pairs + 20)
    _, returns = item_features(n_items)
    t_render = time.time()
    for i in range(n_items):  # 1.5 s at 30 fps, 256 px: Christiano-sized clips
        make_clip(run / "clips" / f"seg-{i}.mp4", seed=i, frames=45, fps=30, size=256)
    render_s = time.time() - t_render
    rng = np.random.default_rng(1)
    order = rng.permutation(n_items)
    queries = [Query(f"seg-{a}", f"seg-{b}", selector="disagreement", score=1.0, priority=float(-k),
                     meta={"true_return_first": float(returns[a]), "true_return_second": float(returns[b])})
               for k, (a, b) in enumerate(order.reshape(-1, 2))]
    with PreferenceStore(RunPaths(run).store) as store:
        store.add_queries(queries)
    for i in range(n_items):
        register_clip(run, f"seg-{i}", f"seg-{i}.mp4", fps=30)
    write_status(run, "labelling", "scripted session")
    port = free_port()
    server = start_server(run, port, "min_watch_s=0", "gold_rate=0.1", "repeat_rate=0.05")
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    updates_file = WORK / "ui_session_updates.json"
    proc = ctx.Process(target=trainer, args=(str(run), n_items, stop, str(updates_file)))
    proc.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?annotator=scripted")
            t_start = time.time()
            current = ""
            for n in range(pairs):
                page.wait_for_function("prev => document.body.dataset.ready === '1' && document.body.dataset.assignment !== prev",
                                       arg=current, timeout=30000)
                current = page.evaluate("document.body.dataset.assignment")
                page.wait_for_timeout(watch_ms)  # the person watches
                left = int(Path(page.evaluate("document.querySelector('#media-left video').getAttribute('src')")).stem.split("-")[1])
                right = int(Path(page.evaluate("document.querySelector('#media-right video').getAttribute('src')")).stem.split("-")[1])
                page.keyboard.press("ArrowLeft" if returns[left] >= returns[right] else "ArrowRight")
                if n == pairs - 1:
                    page.wait_for_function(f"Number(document.body.dataset.acked || 0) >= {pairs}", timeout=30000)
            session_s = time.time() - t_start
            timings = page.evaluate("labelApp.timings")
            errors = page.evaluate("labelApp.errors")
            browser.close()
        time.sleep(1.0)
    finally:
        stop.set()
        proc.join(120)
        stop_server(server)
    updates = json.loads(updates_file.read_text()) if updates_file.exists() else []
    t_end = t_start + session_s
    during = [u for u in updates if u["time"] <= t_end]
    with PreferenceStore(RunPaths(run).store) as store:
        stored = store.count_judgments()
    return {
        "pairs_labelled": pairs,
        "judgments_in_store": stored,
        "submit_errors": errors,
        "watch_pause_ms": watch_ms,
        "answer_to_next_pair_ready_ms": percentiles(timings),
        "session_s": round(session_s, 2),
        "reward_model_updates_during_session": len(during),
        "reward_model_updates_total": len(updates),
        "last_update": updates[-1] if updates else None,
        "clip_render_s": round(render_s, 2),
        "clips": {"count": n_items, "frames": 45, "fps": 30, "size_px": 256, "codec": "H.264 (libx264, yuv420p)"},
        "browser": "Debian Chromium, headless, via Playwright",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["load", "session", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="load-test runs (each on a fresh run directory)")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--watch-ms", type=int, default=400, help="pause per pair before answering (a person takes 3-5 s)")
    parser.add_argument("--no-save", action="store_true", help="print only, do not write benchmarks/results")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/ui_load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.part in ("load", "both"):
        # The machine is shared, so latency varies from run to run: keep every run, headline the median p95.
        runs = [load_part(args.clients, args.per_client) for _ in range(args.repeats)]
        ranked = sorted(runs, key=lambda r: r["next_pair_latency"]["p95_ms"])
        result = {"benchmark": "ui_load", "command": command.strip(), **provenance(),
                  "repeats": args.repeats,
                  "next_pair_p95_ms_by_run": [r["next_pair_latency"]["p95_ms"] for r in runs],
                  "submit_p95_ms_by_run": [r["submit_latency"]["p95_ms"] for r in runs],
                  "rows_in_store_by_run": [r["rows_in_store"] for r in runs],
                  "median_run": ranked[len(ranked) // 2]}
        print(json.dumps(result, indent=2))
        if not args.no_save:
            (RESULTS / "ui_load.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.part in ("session", "both"):
        result = {"benchmark": "ui_session", "command": command.strip(), **provenance(),
                  **session_part(args.pairs, args.watch_ms)}
        print(json.dumps(result, indent=2))
        if not args.no_save:
            (RESULTS / "ui_session.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
