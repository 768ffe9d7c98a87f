"""``rlhf-robotics report <sweep dir>``: aggregate a sweep (``rlhf-robotics -m ...``) into a Markdown table,
a JSON file and PNG figures, per setting: IQM and mean with 95 % bootstrap confidence intervals of the final
true return, of the fraction of the true-reward baseline, of reward-model accuracy and of labels used; the
probability of improvement between settings; learning curves with bands. Failed jobs are listed with their error.

Examples:
    rlhf-robotics report multirun/smoke/2026-11-27/10-00-00
    rlhf-robotics report multirun/smoke/2026-11-27/10-00-00 --watch        # job states every 10 s until all end
    rlhf-robotics report DIR --compare teacher=mistake teacher=oracle --metric reward_model_accuracy
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from rlhf_robotics.robotics.sweep_report import METRICS, build_report, scan_sweep, status_lines, write_report


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rlhf-robotics report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_dir", help="a multirun sweep directory (Hydra prints it as 'sweep output dir')")
    p.add_argument("--out", default=None, help="where to write the report (default: <sweep dir>/report)")
    p.add_argument("--compare", nargs=2, metavar=("X", "Y"), default=None,
                   help="two settings (as printed in the table) for P(X > Y); default: each setting against the first")
    p.add_argument("--metric", default="final_return", choices=list(METRICS),
                   help="metric for the probability of improvement (default: final_return)")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    p.add_argument("--watch", nargs="?", type=float, const=10.0, default=None, metavar="SECONDS",
                   help="print every job's state every SECONDS (default 10) until none is running or pending, "
                        "then write the report")
    p.add_argument("--status", action="store_true", help="print every job's state once and exit")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.reps < 1:
        print(f"error: --reps {args.reps}: give a positive number of bootstrap resamples, e.g. 2000", file=sys.stderr)
        return 2
    try:
        jobs = scan_sweep(args.sweep_dir)
        if args.status:
            print("\n".join(status_lines(jobs)))
            return 0
        while args.watch is not None:
            print("\n".join(status_lines(jobs)), flush=True)
            if not any(j.state in ("running", "pending") for j in jobs):
                break
            time.sleep(args.watch)
            jobs = scan_sweep(args.sweep_dir)
            print(flush=True)
        rng = np.random.default_rng(args.seed)
        report = build_report(jobs, args.sweep_dir, rng, reps=args.reps,
                              compare=tuple(args.compare) if args.compare else None, metric=args.metric)
        paths = write_report(report, Path(args.out) if args.out else Path(args.sweep_dir) / "report", rng)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(Path(paths["markdown"]).read_text(encoding="utf-8"))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
