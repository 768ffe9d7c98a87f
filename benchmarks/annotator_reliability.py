"""Annotators of mixed quality label a live run through the app's HTTP API: reliability model vs equal weights.

Four simulated annotators — an oracle, a B-Pref "mistake" teacher with ε = 0.1, one with ε = 0.3, and
Christiano's random responder — sign in to the labelling app of a ``labels.source=human`` run, fetch pairs
with ``GET /api/next`` and answer with ``POST /api/submit`` (the same calls the page makes), judging by the
hidden true return of the two clips (looked up from the run's store through the clip index, as
``ui_live_session.py`` does). The app mixes in gold questions (10 %) and mirrored repeats (5 %) and serves each
pair to two annotators (``ui.overlap=2``). Two arms per task and seed:

- ``equal``: ``labels.reliability=none`` (every label counts the same; this arm also trains PPO on the true
  reward, the reference of the normalised score for both arms of its seed);
- ``dawid_skene``: ``labels.reliability=dawid_skene`` (each label weighted by its annotator's fitted log-odds).

Every run is one process (``--one``) writing ``benchmarks/results/annotator_reliability/<env>_<arm>_s<seed>.json``;
a run whose file exists is skipped, so the script resumes where it stopped. ``--report`` aggregates them into
``benchmarks/results/annotator_reliability.json`` (IQM over seeds with a 95 % bootstrap CI,
``rlhf_robotics.robotics.sweep_stats``) and ``annotator_reliability.png``; ``benchmarks/make_results.py`` puts
the table in RESULTS.md.

    .venv/bin/python benchmarks/annotator_reliability.py                  # every run still missing, then --report
    .venv/bin/python benchmarks/annotator_reliability.py --report         # aggregate what exists
    .venv/bin/python benchmarks/annotator_reliability.py --overlap 1      # every pair answered once (…_overlap1.*)

With ``--overlap 1`` each pair has one answer, so a quarter of the training labels are the random responder's
coin flips with nothing beside them to average them out; the fit then rests on gold questions and repeats alone.

Budget (the defaults): 60,000 env steps and 120 queries per run, 5 label rounds. The machine has 2 cores
shared with other work, each run renders every asked pair's clips and the 12 runs (+ 6 true-reward PPO
references) had to fit in about 40 minutes; it is far below the 10⁶ steps the papers use, so the returns say
little about asymptotic performance, and the comparison is of the labels' use, not of PPO.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, SYNCHRONOUS_REFIT, WORK, app_url, provenance  # noqa: E402

from rlhf_robotics.preference.records import StoredJudgment  # noqa: E402
from rlhf_robotics.preference.reliability import fit_reliability  # noqa: E402
from rlhf_robotics.preference.rundir import RunPaths  # noqa: E402
from rlhf_robotics.preference.store import PreferenceStore  # noqa: E402

ENVS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5"}
ARMS = {"equal": "none", "dawid_skene": "dawid_skene"}
ANNOTATORS = {"oracle": 0.0, "eps0.1": 0.1, "eps0.3": 0.3, "random": 0.5}
"""Name → probability of answering against the true return (0.5 = Christiano's random responder)."""
NAME = "annotator_reliability"
"""Stem of the results: ``<NAME>/`` per run, ``<NAME>.json`` and ``<NAME>.png``; ``--overlap 1`` appends ``_overlap1``."""


class Returns:
    """Clip file name → hidden true return of its segment, refreshed from the run's store and clip index."""

    def __init__(self, run: Path) -> None:
        self.paths = RunPaths(run)
        self.by_clip: dict[str, float] = {}
        self.lock = threading.Lock()

    def get(self, clip: str) -> float | None:
        with self.lock:
            if clip not in self.by_clip:
                self._refresh()
            return self.by_clip.get(clip)

    def _refresh(self) -> None:
        store = PreferenceStore(self.paths.store)
        try:
            item_return: dict[str, float] = {}
            for sq in store.queries():
                m = sq.query.meta
                if "true_return_first" in m:
                    item_return[sq.query.first] = m["true_return_first"]
                    item_return[sq.query.second] = m["true_return_second"]
        finally:
            store.close()
        if not self.paths.clip_index.exists():
            return
        for line in self.paths.clip_index.read_text().splitlines():
            row = json.loads(line)
            if row["item"] in item_return:
                self.by_clip[row["file"]] = item_return[row["item"]]


def annotate(url: str, name: str, error: float, returns: Returns, rng: random.Random, stop: threading.Event,
             counts: dict[str, int]) -> None:
    """One simulated annotator: sign in, then fetch and answer pairs until ``stop`` is set."""
    import httpx

    with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as http:
        page = http.get("/", params={"annotator": name}).text
        match = re.search(r'"csrf":\s*"([^"]+)"', page)
        if match is None:
            raise RuntimeError(f"{name}: no CSRF token in the page; the sign-in flow changed")
        csrf = match.group(1)
        while not stop.is_set():
            try:
                r = http.get("/api/next", params={"n": 1})
            except httpx.TransportError:  # the run has ended and taken its server down
                return
            if r.status_code != 200:
                time.sleep(0.5)
                continue
            assignments = r.json()["assignments"]
            if not assignments:
                time.sleep(0.3)
                continue
            pair = assignments[0]
            left, right = (returns.get(Path(pair[side]["src"]).name) for side in ("left", "right"))
            if left is None or right is None:  # a clip not in the index yet: read it again shortly
                time.sleep(0.2)
                continue
            better, worse = ("left", "right") if left >= right else ("right", "left")
            if error >= 0.5:  # Christiano's random responder: a fair coin on every pair
                answer = rng.choice([better, worse])
            else:  # B-Pref's mistake teacher: the wrong side with probability ε
                answer = worse if rng.random() < error else better
            try:
                s = http.post("/api/submit", json={"assignment": pair["id"], "answer": answer, "seconds": 0.0},
                              headers={"X-CSRF-Token": csrf})
            except httpx.TransportError:
                return
            if s.status_code == 200:
                counts[name] = counts.get(name, 0) + 1


def one_run(env: str, arm: str, seed: int, steps: int, labels: int, overlap: int, name: str) -> dict[str, Any]:
    """Run one ``labels.source=human`` experiment with the four annotators; returns its record."""
    run = WORK / name / f"{env}_{arm}_s{seed}"
    if run.exists():
        import shutil

        shutil.rmtree(run)
    command = [sys.executable, "-m", "rlhf_robotics.cli.main", f"env={env}", f"run_dir={run}", f"seed={seed}",
               "labels.source=human", f"labels.total={labels}", "labels.rounds=5", "labels.human_min_initial=10",
               f"labels.reliability={ARMS[arm]}", f"total_steps={steps}", f"baseline={str(arm == 'equal').lower()}",
               "video=false", "eval_episodes=5", "ui.port=0", "ui.min_watch_s=0", f"ui.overlap={overlap}", "ui.gold_rate=0.1",
               "ui.repeat_rate=0.05", "quiet=true", *SYNCHRONOUS_REFIT]  # the published runs' refit
    t0 = time.time()
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "MUJOCO_GL": "egl"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    stop = threading.Event()
    counts: dict[str, int] = {}
    threads: list[threading.Thread] = []
    try:
        url = app_url(proc, log)
        assert proc.stdout is not None
        returns = Returns(run)
        for k, (name, error) in enumerate(ANNOTATORS.items()):
            t = threading.Thread(target=annotate, args=(url, name, error, returns, random.Random(1000 * seed + k), stop, counts),
                                 daemon=True)
            t.start()
            threads.append(t)
        log += proc.stdout.readlines()
        proc.wait()
    finally:
        stop.set()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)
    if proc.returncode != 0:
        raise SystemExit(f"run {run} failed ({proc.returncode}):\n" + "".join(log[-40:]))
    summary = json.loads((run / "summary.json").read_text())
    store = PreferenceStore(RunPaths(run).store)
    rows: list[StoredJudgment] = store.judgments()
    queries = {sq.id: sq.query for sq in store.queries()}
    store.close()
    fit = fit_reliability(rows, queries)  # the same fit for both arms, so the estimates compare
    gold = [r for r in rows if queries[r.judgment.query_id].gold_label is not None]
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return {
        "env": env, "env_id": ENVS[env], "arm": arm, "seed": seed, "total_steps": steps, "labels_total": labels,
        "overlap": overlap,
        "command": " ".join(command[2:]),
        "wall_seconds": round(time.time() - t0, 1),
        "return_true_learned_reward_policy": summary["policy_return_true"]["mean"],
        "return_true_random_policy": summary["random_return_true"]["mean"],
        "return_true_ppo_true_reward": (summary.get("baseline_return_true") or {}).get("mean"),
        "labels_used": summary["labels_used"],
        "judgments_in_store": len(rows),
        "answers_by_annotator": {a: sum(r.judgment.annotator == f"human:{a}" for r in rows) for a in ANNOTATORS},
        "gold_answers": len(gold),
        "true_error": ANNOTATORS,
        "estimated_reliability": {a.removeprefix("human:"): p for a, p in fit.reliability.items()},
        "reward_model_accuracy_vs_oracle": summary.get("reward_model_accuracy_vs_oracle"),
        "reward_model_gold_accuracy_by_round": [m.get("reward_model/gold_accuracy") for m in metrics],
        **provenance(),
    }


def report(name: str = NAME) -> dict[str, Any]:
    """Aggregate every per-run file: normalised score per arm, reliability against true noise."""
    from rlhf_robotics.robotics.evaluation import normalized_score
    from rlhf_robotics.robotics.sweep_stats import bootstrap_ci, iqm

    runs = [json.loads(p.read_text()) for p in sorted((RESULTS / name).glob("*.json"))]
    reference = {(r["env"], r["seed"]): r["return_true_ppo_true_reward"] for r in runs if r["arm"] == "equal"}
    rng = np.random.default_rng(0)
    table: dict[str, Any] = {}
    for env in ENVS:
        for arm in ARMS:
            mine = [r for r in runs if r["env"] == env and r["arm"] == arm and reference.get((env, r["seed"])) is not None]
            # (ours − random) / (true-reward PPO − random): the normalised score, the share of true-reward PPO's gain over a random
            # policy, defined for negative returns too (Hopper's early returns can be below the random policy's)
            scores = np.array([normalized_score(r["return_true_learned_reward_policy"], r["return_true_random_policy"],
                                                reference[(env, r["seed"])]) for r in mine], dtype=float)
            if len(scores) == 0:
                continue
            ci = bootstrap_ci(scores, iqm, rng)
            table[f"{env}/{arm}"] = {"seeds": [r["seed"] for r in mine], "normalized_score": scores.round(3).tolist(),
                                     "iqm": round(float(ci.point), 3), "ci95": [round(float(ci.low), 3), round(float(ci.high), 3)],
                                     "labels_used": [r["labels_used"] for r in mine]}
    reliability = {a: [r["estimated_reliability"].get(a) for r in runs] for a in ANNOTATORS}
    order_recovered = [
        [r["estimated_reliability"].get(a, float("nan")) for a in ANNOTATORS] == sorted(
            (r["estimated_reliability"].get(a, float("nan")) for a in ANNOTATORS), reverse=True)
        for r in runs
    ]
    result = {
        "benchmark": "annotator_reliability",
        "command": "python benchmarks/annotator_reliability.py" + ("" if name == NAME else f" --overlap {name.removeprefix(NAME + '_overlap')}"),
        "overlap": sorted({r.get("overlap", 2) for r in runs}),
        "annotators_true_error": ANNOTATORS,
        "runs": len(runs),
        "normalized_score": table,
        "estimated_reliability_all_runs": reliability,
        "estimated_reliability_mean": {a: round(float(np.mean([x for x in v if x is not None])), 3) for a, v in reliability.items() if any(x is not None for x in v)},
        "order_recovered_runs": int(sum(order_recovered)),
        "runs_provenance": [{k: r.get(k) for k in ("env", "arm", "seed", "commit", "working_tree_dirty", "date")} for r in runs],
        **provenance(),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    _figure(runs, table, RESULTS / f"{name}.png")
    return result


def _figure(runs: list[dict[str, Any]], table: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    labels = list(table)
    for i, key in enumerate(labels):
        row = table[key]
        ax1.errorbar([i], [row["iqm"]], yerr=[[row["iqm"] - row["ci95"][0]], [row["ci95"][1] - row["iqm"]]], fmt="o", capsize=4)
        ax1.scatter([i] * len(row["normalized_score"]), row["normalized_score"], s=10, alpha=0.5)
    ax1.set_xticks(range(len(labels)), [k.replace("/", "\n") for k in labels], fontsize=8)
    ax1.set_ylabel("normalised score (IQM, 95 % CI)")
    ax1.axhline(1.0, color="grey", lw=0.5)
    for name, error in ANNOTATORS.items():
        est = [r["estimated_reliability"][name] for r in runs if name in r["estimated_reliability"]]
        ax2.scatter([1 - error + 0.01 * (j - len(est) / 2) for j in range(len(est))], est, label=name, s=16)
    ax2.plot([0.45, 1.02], [0.45, 1.02], color="grey", lw=0.5)
    ax2.set_xlabel("true reliability (1 − ε)")
    ax2.set_ylabel("estimated reliability (Dawid–Skene)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--labels", type=int, default=120)
    parser.add_argument("--overlap", type=int, default=2, help="annotators per pair (ui.overlap); 1 = every pair answered once")
    parser.add_argument("--one", nargs=3, metavar=("ENV", "ARM", "SEED"), help="run just this one (in this process)")
    parser.add_argument("--report", action="store_true", help="only aggregate the per-run files")
    args = parser.parse_args()
    name = NAME if args.overlap == 2 else f"{NAME}_overlap{args.overlap}"
    out = RESULTS / name
    out.mkdir(parents=True, exist_ok=True)
    if args.one:
        env, arm, seed = args.one[0], args.one[1], int(args.one[2])
        record = one_run(env, arm, seed, args.steps, args.labels, args.overlap, name)
        (out / f"{env}_{arm}_s{seed}.json").write_text(json.dumps(record, indent=2))
        print(json.dumps({k: record[k] for k in ("env", "arm", "seed", "return_true_learned_reward_policy",
                                                  "labels_used", "estimated_reliability", "wall_seconds")}), flush=True)
        return
    if not args.report:
        for seed in args.seeds:  # whole seeds first, so a stopped benchmark leaves complete pairs of arms
            for env in args.envs:
                for arm in args.arms:
                    if (out / f"{env}_{arm}_s{seed}.json").exists():
                        continue
                    subprocess.run([sys.executable, __file__, "--one", env, arm, str(seed), "--steps", str(args.steps),
                                    "--labels", str(args.labels), "--overlap", str(args.overlap)], check=True)
    print(json.dumps(report(name), indent=2))


if __name__ == "__main__":
    main()
