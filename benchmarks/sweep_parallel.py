"""The smoke sweep (2 teachers × 3 seeds at ``+experiment=smoke`` size, no baseline, no video) run three ways in
one invocation, for the wall time of parallel launchers against running the 6 jobs one after another:

- ``basic``: Hydra's default launcher, the 6 jobs sequentially in one process (the baseline);
- ``local``: the joblib launcher, 2 worker processes (``conf/hydra/launcher/local.yaml``);
- ``ray_local``: a local Ray instance, 1 CPU per job (``conf/hydra/launcher/ray_local.yaml``), startup included.

Each is the real CLI (``rlhf-robotics -m +sweep=smoke hydra/launcher=...``) in a subprocess; the wall time is the
whole command. Records the ratios basic / parallel, the 1-minute load average before and after each (this
machine's 2 cores are shared with other work), the top CPU users seen at the start, commit, machine and date, and
writes ``rlhf-robotics report`` for the joblib sweep into ``benchmarks/results/sweep_smoke_report/``.

    .venv/bin/python benchmarks/sweep_parallel.py                 # ~4 min on 2 idle cores
    .venv/bin/python benchmarks/sweep_parallel.py --launchers basic local --repeats 2
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
from _common import RESULTS, ROOT, SYNCHRONOUS_REFIT, WORK, provenance  # noqa: E402


def _load() -> float:
    return os.getloadavg()[0]


def _top_processes(n: int = 8) -> list[str]:
    """The ``n`` processes using the most CPU right now (``ps``), to say what else was running."""
    out = subprocess.run(["ps", "-eo", "pcpu,etime,args", "--sort=-pcpu"], capture_output=True, text=True).stdout
    return [" ".join(line.split())[:160] for line in out.splitlines()[1 : n + 1]]


def run_sweep(launcher: str, sweep_dir: Path, extra: list[str]) -> dict[str, object]:
    """Run the smoke sweep on ``launcher``; returns wall seconds, exit code, job states and the log's tail."""
    shutil.rmtree(sweep_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "rlhf_robotics.cli.main", "-m", "+sweep=smoke", f"hydra/launcher={launcher}",
           f"hydra.sweep.dir={sweep_dir}", *SYNCHRONOUS_REFIT, *extra]  # the published timing's refit
    load_before = _load()
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MUJOCO_GL": "egl"})
    wall = time.perf_counter() - start
    log = r.stdout + r.stderr
    (sweep_dir / "sweep.log").write_text(log)
    done = sorted(p.parent.name for p in sweep_dir.glob("*/summary.json"))
    failed = sorted(p.parent.name for p in sweep_dir.glob("*/failed.json"))
    loop = [json.loads((sweep_dir / n / "summary.json").read_text())["wall_seconds"].get("loop_total", 0.0) for n in done]
    return {"launcher": launcher, "command": " ".join(["rlhf-robotics", *cmd[4:]]), "wall_seconds": round(wall, 1),
            "returncode": r.returncode, "jobs_done": len(done), "jobs_failed": len(failed),
            "sum_job_loop_seconds": round(sum(loop), 1), "load_1min_before": load_before, "load_1min_after": _load(),
            "sweep_dir": str(sweep_dir.relative_to(ROOT)), "log_tail": log[-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launchers", nargs="+", default=["basic", "local", "ray_local"],
                        choices=["basic", "local", "ray_local"], help="basic must be among them for the ratios")
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds over the launchers (alternating, so background load hits each alike); "
                             "ratios use the median wall time")
    parser.add_argument("--out", default=str(RESULTS / "sweep_parallel.json"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every sweep, e.g. total_steps=4000")
    args = parser.parse_args()
    work = WORK / "sweep_parallel"
    result: dict[str, object] = {**provenance(), "sweep": "conf/sweep/smoke.yaml (teacher=oracle,mistake × seed=0,1,2)",
                                 "overrides": args.overrides, "top_processes_at_start": _top_processes(), "runs": {}}
    runs: dict[str, list[dict[str, object]]] = {k: [] for k in args.launchers}
    for round_ in range(args.repeats):
        for launcher in args.launchers:
            print(f"round {round_}: {launcher} ...", flush=True)
            run = run_sweep(launcher, work / launcher, args.overrides)
            runs[launcher].append(run)
            print(f"  {run['wall_seconds']} s, {run['jobs_done']} done, {run['jobs_failed']} failed, "
                  f"exit {run['returncode']}, load {run['load_1min_before']:.1f} → {run['load_1min_after']:.1f}", flush=True)
    result["runs"] = runs
    median = {k: float(np.median([float(r["wall_seconds"]) for r in v])) for k, v in runs.items()}  # type: ignore[arg-type]
    result["median_wall_seconds"] = median
    if "basic" in runs:
        result["speedup_vs_sequential"] = {k: round(median["basic"] / v, 2) for k, v in median.items() if k != "basic"}
    if "local" in runs:
        out = RESULTS / "sweep_smoke_report"
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", "report", str(work / "local"), f"out={out}"],
                           cwd=ROOT, capture_output=True, text=True)
        result["report"] = {"returncode": r.returncode, "markdown": str((out / "report.md").relative_to(ROOT)),
                            "figures": [str(p.relative_to(ROOT)) for p in sorted(out.glob("*.png"))]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("speedup_vs_sequential", "report") if k in result}, indent=2))


if __name__ == "__main__":
    main()
