"""Generate ``benchmarks/RESULTS.md`` from the results files — never edit RESULTS.md by hand.

Reads ``benchmarks/results/label_efficiency.json`` (written by ``label_efficiency.py``),
``benchmarks/results/label_efficiency_before.json`` (the loop's runs before the last method change, gathered
by ``label_efficiency.py --collect --work <their folder> --out ...``), ``benchmarks/results/screen_<variant>.json``
(variants of the loop on held-out seeds, gathered the same way), ``benchmarks/results/overhead*.json``
(written by ``overhead.py``) and ``benchmarks/results/annotator_reliability.json`` (written by
``annotator_reliability.py``), ``benchmarks/results/suite.json`` (written by ``suite.py``: the suite tasks
with verifier success rates), ``benchmarks/results/label_scaling.json`` (``label_scaling.py --collect``) and
``benchmarks/results/lm_seeds.json`` (written by ``lm_seeds.py --collect``); any may be missing. Aggregates over seeds
are the interquartile mean (IQM) with a 95 % percentile-bootstrap interval (2,000 resamples, generator seed 0,
so the file is the same for the same inputs), computed by ``rlhf_robotics.robotics.sweep_stats`` (numpy, with
rliable's definitions). "Fraction of true-reward PPO" is each seed's return divided by the return of PPO on the
true reward with the same seed, task and steps, aggregated over seeds.

    .venv/bin/python benchmarks/make_results.py            # writes benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_robotics.robotics.sweep_stats import Interval, bootstrap_ci, iqm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import default_segments, override_item, recorded_segments  # noqa: E402

LABEL_SETTINGS: tuple[tuple[int, str], ...] = ((200, "oracle"), (700, "oracle"), (700, "mistake"))
ENV_ORDER = ("HalfCheetah", "Hopper", "Swimmer")
GOALS = {200: 0.8, 700: 1.0}
"""Issue 7: ours ≥ 100 % of true-reward PPO at 700 labels, ≥ 80 % at 200."""


def ci(values: Sequence[float], reps: int = 2000) -> Interval:
    """IQM over seeds with a 95 % percentile-bootstrap interval (fixed generator: reproducible files)."""
    return bootstrap_ci(np.asarray(values, dtype=float), iqm, np.random.default_rng(0), reps=reps)


def num(x: float, fraction: bool = False) -> str:
    """Returns without needless digits (``1234``, ``56.7``, ``-3.21``); fractions with two decimals."""
    if fraction:
        return f"{x:.2f}"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def fmt(interval: Interval, fraction: bool = False) -> str:
    """``point [low, high]`` (IQM and its 95 % interval), ``point (1 seed)``, or ``–`` without runs."""
    if interval.n == 0 or not math.isfinite(interval.point):
        return "–"
    if interval.n == 1:
        return f"{num(interval.point, fraction)} (1 seed)"
    return f"{num(interval.point, fraction)} [{num(interval.low, fraction)}, {num(interval.high, fraction)}]"


def median(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else math.nan


def seconds(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.0f} s"


Runs = dict[tuple[str, str, int | None, str | None], dict[int, dict[str, Any]]]
"""(arm, env_id, labels, teacher) → seed → run."""


def index_runs(runs: Sequence[dict[str, Any]]) -> Runs:
    out: Runs = defaultdict(dict)
    for r in runs:
        j = r["job"]
        out[(j["arm"], r["env_id"], j["labels"], j["teacher"])][int(j["seed"])] = r
    return out


def returns(cell: dict[int, dict[str, Any]]) -> list[float]:
    return [cell[s]["return_true"]["mean"] for s in sorted(cell)]


def fractions(ours: dict[int, dict[str, Any]], ppo: dict[int, dict[str, Any]]) -> list[float]:
    """Per seed with both runs: our return / true-reward PPO's (NaN where PPO's return is not positive)."""
    out = []
    for s in sorted(set(ours) & set(ppo)):
        base = ppo[s]["return_true"]["mean"]
        out.append(ours[s]["return_true"]["mean"] / base if base > 0 else math.nan)
    return out


def _envs(index: Runs, version: str) -> list[str]:
    present = {env_id.split("-")[0] for (_, env_id, _, _) in index if env_id.endswith(version)}
    return [e for e in ENV_ORDER if e in present] + sorted(present - set(ENV_ORDER))


def main_table(index: Runs) -> list[str]:
    """v5: our loop against PPO on the true reward."""
    lines = [
        "| task | labels | teacher | seeds | ours: true return | PPO true reward: return | ours / true-reward PPO | goal | "
        "wall, ours | wall, PPO | wall ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env in _envs(index, "v5"):
        env_id = f"{env}-v5"
        ppo = index.get(("ppo", env_id, None, None), {})
        for labels, teacher in LABEL_SETTINGS:
            ours = index.get(("loop", env_id, labels, teacher), {})
            if not ours:
                continue
            frac = ci(fractions(ours, ppo))
            goal = GOALS.get(labels) if teacher == "oracle" else None
            met = "–" if goal is None or frac.n == 0 else (f"≥ {goal:.0%}: " + ("met" if frac.point >= goal else "missed"))
            w_ours, w_ppo = median(r["wall_seconds"] for r in ours.values()), median(r["wall_seconds"] for r in ppo.values())
            ratio = f"{w_ours / w_ppo:.2f}×" if w_ppo > 0 and math.isfinite(w_ours / w_ppo) else "–"
            lines.append(
                f"| {env_id} | {labels} | {teacher} | {len(ours)} | {fmt(ci(returns(ours)))} | {fmt(ci(returns(ppo)))} | "
                f"{fmt(frac, fraction=True)} | {met} | {seconds(w_ours)} | {seconds(w_ppo)} | {ratio} |")
    return lines


def imitation_table(index: Runs) -> list[str]:
    """v4: our loop against imitation 1.0.1 at equal labels and steps (PPO on the true reward for scale)."""
    lines = [
        "| task | labels | teacher | seeds (ours, imitation) | ours: true return | imitation: true return | "
        "PPO true reward | ours / PPO | imitation / PPO | P(ours > imitation) | wall, ours | wall, imitation | "
        "wall ratio ours / imitation | CPU ratio ours / imitation | wall ratio PPO alone / imitation |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env in _envs(index, "v4"):
        env_id = f"{env}-v4"
        ppo = index.get(("ppo", env_id, None, None), {})
        for labels, teacher in LABEL_SETTINGS:
            ours = index.get(("loop", env_id, labels, teacher), {})
            imit = index.get(("imitation", env_id, labels, teacher), {})
            if not ours and not imit:
                continue
            a, b = returns(ours), returns(imit)
            p_imp = "–" if not a or not b else f"{float(np.mean([[x > y for y in b] for x in a])):.2f}"
            paired = [ours[s]["wall_seconds"] / imit[s]["wall_seconds"] for s in sorted(set(ours) & set(imit))]
            w_o, w_i = median(r["wall_seconds"] for r in ours.values()), median(r["wall_seconds"] for r in imit.values())
            ratio = f"{median(paired):.2f}× (median over {len(paired)} seeds)" if paired else "–"
            cpu = [ours[s]["job_cpu_seconds"] / imit[s]["job_cpu_seconds"] for s in sorted(set(ours) & set(imit))
                   if ours[s].get("job_cpu_seconds") and imit[s].get("job_cpu_seconds")]
            cpu_ratio = f"{median(cpu):.2f}×" if cpu else "–"
            floor = [ppo[s]["wall_seconds"] / imit[s]["wall_seconds"] for s in sorted(set(ppo) & set(imit))]
            floor_ratio = f"{median(floor):.2f}×" if floor else "–"
            lines.append(
                f"| {env_id} | {labels} | {teacher} | {len(ours)}, {len(imit)} | {fmt(ci(a))} | {fmt(ci(b))} | "
                f"{fmt(ci(returns(ppo)))} | {fmt(ci(fractions(ours, ppo)), True)} | {fmt(ci(fractions(imit, ppo)), True)} | {p_imp} | "
                f"{seconds(w_o)} | {seconds(w_i)} | {ratio} | {cpu_ratio} | {floor_ratio} |")
    return lines


def cpu_table(index: Runs) -> list[str]:
    """Median CPU seconds of each arm's whole job (start-up and evaluation included): what the grid costs."""
    lines = ["| arm | task | jobs | median wall of training | median CPU of the whole job |", "|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (arm, env_id, _, _), cell in index.items():
        groups[(arm, env_id)] += [r for r in cell.values() if not r.get("same_computation_as")]  # reused runs cost nothing
    for (arm, env_id) in sorted(groups):
        runs = groups[(arm, env_id)]
        if not runs:
            continue
        lines.append(f"| {arm} | {env_id} | {len(runs)} | {seconds(median(r['wall_seconds'] for r in runs))} | "
                     f"{seconds(median(r.get('job_cpu_seconds', math.nan) for r in runs))} |")
    return lines


def headline(index: Runs) -> list[str]:
    """One line per (task, setting) that has our runs, in words."""
    out = []
    for env in _envs(index, "v5"):
        ppo = index.get(("ppo", f"{env}-v5", None, None), {})
        for labels, teacher in LABEL_SETTINGS:
            ours = index.get(("loop", f"{env}-v5", labels, teacher), {})
            f = ci(fractions(ours, ppo))
            if f.n:
                spread = f"IQM over {f.n} seeds, 95 % CI {f.low:.0%}–{f.high:.0%}" if f.n > 1 else "1 seed, no interval"
                out.append(f"- {env}-v5, {labels} {teacher} labels: ours reaches {f.point:.0%} of true-reward PPO ({spread}).")
    for env in _envs(index, "v4"):
        for labels, teacher in LABEL_SETTINGS:
            ours = index.get(("loop", f"{env}-v4", labels, teacher), {})
            imit = index.get(("imitation", f"{env}-v4", labels, teacher), {})
            if ours and imit:
                a, b = ci(returns(ours)), ci(returns(imit))
                paired = [ours[s]["wall_seconds"] / imit[s]["wall_seconds"] for s in sorted(set(ours) & set(imit))]
                wall = f", at {median(paired):.2f}× its wall time" if paired else ""
                out.append(f"- {env}-v4, {labels} {teacher} labels: ours {num(a.point)} vs imitation {num(b.point)} "
                           f"(IQM true return, {a.n} and {b.n} seeds){wall}.")
    return out


def _provenance_lines(data: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[str]:
    commits = sorted({r.get("commit", "unknown")[:10] + (" (dirty tree)" if r.get("working_tree_dirty") else "") for r in runs})
    dates = sorted(r.get("date", "") for r in runs if r.get("date"))
    machine = data.get("machine", {})
    return [
        f"- Commits of the runs: {', '.join(commits) or '–'}; results gathered at commit {str(data.get('commit', 'unknown'))[:10]}.",
        f"- Machine: {machine.get('cpu', 'unknown')}, {machine.get('cores', '?')} cores, {machine.get('platform', '?')}, "
        f"Python {machine.get('python', '?')}, torch {machine.get('torch', '?')}.",
        f"- Dates: {dates[0] if dates else '–'} to {dates[-1] if dates else '–'} (UTC).",
    ]


def label_efficiency_section(data: dict[str, Any]) -> list[str]:
    runs = data.get("runs", [])
    index = index_runs(runs)
    seeds = sorted({int(r["job"]["seed"]) for r in runs})
    settings: dict[str, int] = defaultdict(int)
    for r in runs:
        if r["job"]["arm"] == "loop":
            rm = r.get("reward_model")
            settings["not recorded" if not rm else
                     f"{rm['ensemble_size']} members, {rm['selection']} selection, "
                     f"{'asynchronous' if rm['async_training'] else 'synchronous'} refits of ≤ {rm['refit_epochs']} epochs, "
                     f"input statistics {rm.get('input_statistics', 'initial')}"] += 1
    loop_settings = "; ".join(f"{k} ({v} runs)" for k, v in sorted(settings.items())) or "–"
    counts: dict[int, int] = defaultdict(int)
    for r in runs:
        counts[int(r.get("jobs_at_a_time", 1))] += 1
    parallel = ", ".join(f"{k} ({v} runs)" for k, v in sorted(counts.items()))
    n_reused = sum(1 for r in runs if r.get("same_computation_as"))
    imit_sw = next((r.get("software") for r in runs if r["job"]["arm"] == "imitation" and r.get("software")), None)
    out = [
        "## Label efficiency: our loop, PPO on the true reward, imitation 1.0.1",
        "",
        f"Every arm learns from {data.get('steps')} env steps with the same SB3 PPO settings (4 envs, n_steps 512, "
        "batch 256, 10 epochs, lr 3e-4, observation and reward normalisation); the final policy's true return is the mean "
        f"of {runs[0]['eval_episodes'] if runs else '?'} deterministic episodes. Ours: `ExperimentConfig` defaults at the "
        f"commit of each run (10 label rounds, 25 % of labels on the initial policy; reward model: {loop_settings}). "
        "Returns and fractions: IQM over seeds [95 % bootstrap CI]; wall: median seconds of training (evaluation "
        "excluded; wall times on this shared machine vary by tens of per cent, CPU seconds less).",
        "",
        *_provenance_lines(data, runs),
        f"- Seeds present: {', '.join(map(str, seeds)) or '–'}; grid jobs done: {data.get('jobs_done', 0)} of "
        f"{data.get('jobs_in_grid', '?')}; jobs at a time: {parallel or '–'}.",
        f"- Commands that produced these runs: {'; '.join(f'`{c}`' for c in data.get('commands', [])) or '–'}. "
        f"The whole grid: `{data.get('full_grid_command', '')}` (resumes where it stopped).",
        "",
        "### v5 tasks: ours against PPO on the true reward",
        "",
        f"Command: `{data.get('full_grid_command', '')} --only version=v5`",
        "",
        *(main_table(index) if len(main_table(index)) > 2 else ["No v5 runs yet."]),
        "",
        "### v4 tasks: ours against imitation 1.0.1's preference comparisons",
        "",
        "imitation 1.0.1 pins gymnasium 0.29 and stable-baselines3 2.2.1, so it runs the v4 tasks; it runs in its own "
        "virtual environment" + (f" ({', '.join(f'{k} {v}' for k, v in imit_sw.items())})" if imit_sw else "") + ", with "
        "MuJoCo 2.3.7 because Swimmer-v4 does not load under MuJoCo ≥ 3. Our loop and PPO run the same v4 ids in our "
        "environment (gymnasium 1.4, MuJoCo 4), so the physics versions differ" + (
            f"; there, v4 and v5 are the same computation (stepped side by side from the same seeds they give "
            f"bit-identical observations, rewards and episode ends), so {n_reused} of our v4 loop and PPO results are "
            "their v5 twins' runs, re-checked and recorded with `same_computation_as`" if n_reused else "") + ". "
        "imitation's settings: its "
        "`SyntheticGatherer` with temperature 0 (a perfect oracle; the mistake teacher flips each answer with probability "
        "0.1), `BasicRewardNet` with normalised inputs, random fragments of our segment length, 10 iterations with 25 % of "
        "labels first, our PPO settings and `VecNormalize`; its agent-training calls are given exactly the same env steps "
        "(its own schedule trains 1.1× the budget). P(ours > imitation): share of (our seed, its seed) pairs where ours "
        "has the higher return. PPO alone / imitation: plain PPO's wall time over imitation's at the same steps, the floor of "
        "any method that trains the same PPO for the same steps.",
        "",
        f"Command: `{data.get('full_grid_command', '')} --only version=v4`",
        "",
        *(imitation_table(index) if len(imitation_table(index)) > 2 else ["No v4 runs yet."]),
        "",
        "### Cost of each arm",
        "",
        *cpu_table(index),
    ]
    if data.get("failed"):
        out += ["", "Failed jobs (retried on the next run): " + "; ".join(f"`{f['key']}`: {f['error']}" for f in data["failed"])]
    remaining = data.get("jobs_remaining", [])
    if remaining:
        out += ["", f"Not yet run: {len(remaining)} jobs of the grid. Resume with `{data.get('full_grid_command', '')}`."]
    return out


def _method(run: dict[str, Any]) -> str:
    rm = run.get("reward_model") or {}
    return f"input statistics {rm.get('input_statistics', 'initial')}, hidden {rm.get('hidden_sizes', [64, 64])}"


def before_after_section(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Our loop before and after a method change, on the (task, setting, seed) cells both have; PPO from ``after``."""
    b_index, a_index = index_runs(before.get("runs", [])), index_runs(after.get("runs", []))
    b_methods = sorted({_method(r) for r in before.get("runs", []) if r["job"]["arm"] == "loop"})
    a_methods = sorted({_method(r) for r in after.get("runs", []) if r["job"]["arm"] == "loop"})
    lines = [
        "## Method change: before and after",
        "",
        f"Before: {'; '.join(b_methods) or '–'} (`benchmarks/results/label_efficiency_before.json`, commits "
        f"{', '.join(sorted({str(r.get('commit', '?'))[:10] for r in before.get('runs', [])}))}; commands: "
        f"{'; '.join(f'`{c}`' for c in before.get('commands', [])) or '–'}). "
        f"After: {'; '.join(a_methods) or '–'} (the tables above). Same grid, budgets, seeds and PPO settings; only the "
        "seeds both have are compared. Fractions: each seed's return over true-reward PPO's with that seed.",
        "",
        "| task | labels | teacher | seeds | before: returns by seed | after: returns by seed | before / PPO | after / PPO |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for env in _envs(a_index, "v5"):
        env_id = f"{env}-v5"
        ppo = a_index.get(("ppo", env_id, None, None), {})
        for labels, teacher in LABEL_SETTINGS:
            b_cell, a_cell = b_index.get(("loop", env_id, labels, teacher), {}), a_index.get(("loop", env_id, labels, teacher), {})
            seeds = sorted(set(b_cell) & set(a_cell))
            if not seeds:
                continue
            b_sub, a_sub = {s: b_cell[s] for s in seeds}, {s: a_cell[s] for s in seeds}
            lines.append(
                f"| {env_id} | {labels} | {teacher} | {', '.join(map(str, seeds))} | "
                f"{', '.join(num(x) for x in returns(b_sub))} | {', '.join(num(x) for x in returns(a_sub))} | "
                f"{fmt(ci(fractions(b_sub, ppo)), True)} | {fmt(ci(fractions(a_sub, ppo)), True)} |")
    header = 6
    return lines if len(lines) > header else []


def screens_section(screens: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """Variants of the loop tried on seeds outside the grid's (``label_efficiency.py --seeds 5 6 7 8 9 --set ...``)."""
    if not screens:
        return []
    lines = [
        "## Investigation: variants of the loop on held-out seeds",
        "",
        "Each variant changes one setting of the loop (`--set`) and runs on seeds the grid does not use, so that what is "
        "chosen here is not judged on the seeds it was chosen on. Returns: IQM over seeds [95 % bootstrap CI], then each "
        "seed's return.",
        "",
        "| variant | task | labels | teacher | seeds | true return | by seed | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, data in screens:
        index = index_runs(data.get("runs", []))
        for (arm, env_id, labels, teacher), cell in sorted(index.items(), key=lambda kv: str(kv[0])):
            if arm != "loop":
                continue
            commands = sorted({str(r.get("command")) for r in cell.values() if r.get("command")})
            lines.append(f"| {name} | {env_id} | {labels} | {teacher} | {', '.join(map(str, sorted(cell)))} | "
                         f"{fmt(ci(returns(cell)))} | {', '.join(num(x) for x in returns(cell))} | "
                         f"{'; '.join(f'`{c}`' for c in commands)} |")
    return lines


def _take_over(steps: int | None, relabel: bool) -> str:
    """When an async refit took over in an overhead run's title ("" at the round's end, the default)."""
    if relabel:
        where = "the round's first rollout" if not steps else f"a rollout ≥ {steps:,} env steps into the round"
        return f", taken over at the end of {where}, which is relabelled"
    return f", taken over {steps:,} env steps into the round" if steps else ""


def overhead_section(data: dict[str, Any]) -> list[str]:
    reps = data.get("repetitions", [])
    phases = data.get("phase_medians_seconds", {})
    refit = data.get("refit", "?")
    out = [
        f"### {data.get('env_id')}, reward refits {refit}"
        + (f", ≤ {data['refit_epochs']} epochs each" if "refit_epochs" in data else ", epochs not recorded (≤ 25, the default then)")
        + (f", members trained {data['trainer_workers']} at a time" if data.get("trainer_workers", 1) > 1 else "")
        + (", in a worker process" if data.get("refit_worker") == "process" else "")
        + (f", stopped at {data['stop_accuracy']:.0%} training accuracy" if data.get("stop_accuracy") else "")
        + _take_over(data.get("async_install_steps"), bool(data.get("async_relabel")))
        + (" — the package's defaults" if data.get("settings_from") == "the package's defaults" else ""),
        "",
        f"{data.get('steps')} env steps per arm, {data.get('labels')} labels from the perfect oracle, {len(reps)} repetitions "
        f"(medians), plain PPO on the true reward in the same invocation ({data.get('order', '')}).",
        "",
        *_provenance_lines(data, [data]),
        f"- Command: `{str(data.get('command', '')).strip()}`",
        "",
        "| phase | median seconds | share of the loop's wall time |",
        "|---|---|---|",
    ]
    total = phases.get("loop_total", math.nan)
    for name, value in phases.items():
        if name == "loop_total":
            share = "100%"
        elif name == "reward_training_background":
            share = ("(in the worker process beside PPO; not added)" if data.get("refit_worker") == "process"
                     else "(in a thread beside PPO; not added)")
        else:
            share = f"{value / total:.0%}" if total and math.isfinite(total) else ""
        out.append(f"| {name} | {value:.1f} | {share} |")
    per_rep = ", ".join(f"{r['wall_time_ratio']:.2f}" for r in reps)
    cpu = data.get("cpu_time_ratio_median")
    out += [
        f"| plain PPO (`learn`) | {data.get('ppo_seconds_median', math.nan):.1f} | |",
        "",
        f"Wall-time ratio loop / plain PPO: median {data.get('wall_time_ratio_median', math.nan):.2f}× (per repetition: "
        f"{per_rep}); goal ≤ 1.15×." + (f" CPU-time ratio: median {cpu:.2f}×." if cpu is not None else "")
        + (f" The loop's own process alone (the worker's refit left out): median {main:.2f}×."
           if (main := data.get("main_process_cpu_time_ratio_median")) is not None else ""),
    ]
    return out


def relabel_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/relabel_rate.py``: how fast an off-policy replay buffer is relabelled after a refit."""
    return [
        "## Relabelling a replay buffer after a reward-model update (SAC/TD3, PEBBLE)",
        "",
        f"`{str(data.get('command', 'benchmarks/relabel_rate.py')).strip()}`: {data['transitions']:,} transitions "
        f"({data['obs_dim']}-dim observations, {data['act_dim']}-dim actions; a buffer that has wrapped), the loop's "
        f"default {data['ensemble']['members']}-member reward ensemble, {data['torch_threads']} torch thread(s), "
        f"median of {data['repeats']}; commit {str(data.get('commit', '?'))[:7]}, {data.get('machine', {}).get('cpu', '?')}, "
        f"{data.get('date', '?')}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| seconds per million transitions (goal ≤ 2) | {data['seconds_per_million_transitions']:.2f} |",
        f"| transitions relabelled per second | {data['transitions_relabelled_per_second']:,.0f} |",
        f"| wall-time ratio, relabelling / the reward function alone on pre-built features | "
        f"{data['relabel_over_reward_fn_only_wall_time_ratio']:.2f} |",
    ]


OFFPOLICY_GOALS = {"pebble_1000_oracle": 0.9, "pebble_100_oracle": 0.7}
"""Issue 12, on walker_walk: PEBBLE >= 0.9 of true-reward SAC at 1,000 labels and >= 0.7 at 100."""


def offpolicy_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/offpolicy_dmc.py``: PEBBLE, SAC with relabelling and our PPO loop against true-reward SAC."""
    runs: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in data.get("runs", []):
        runs[(r["task"], r["arm"])][int(r["seed"])] = r
    steps = sorted({int(r["steps"]) for r in data.get("runs", [])})
    lines = [
        "## Off-policy preference learning on the DeepMind Control Suite (PEBBLE)",
        "",
        f"`benchmarks/offpolicy_dmc.py` ({data.get('jobs_done', 0)} of {data.get('jobs_in_grid', '?')} jobs; "
        f"{', '.join(f'{s:,}' for s in steps) or '?'} env steps per run; runs made at commit "
        f"{', '.join(sorted({str(r.get('commit', '?'))[:7] for r in data.get('runs', [])})) or '?'}, gathered at "
        f"{str(data.get('commit', '?'))[:7]}, "
        f"{data.get('machine', {}).get('cpu', '?')}, {data.get('date', '?')}). True return over 10 episodes; IQM over "
        "seeds [95 % bootstrap CI]; fraction and wall-time ratio against SAC on the true reward with the same seed and steps. "
        f"{data.get('note', '')}",
        "",
    ]
    alone = set(data["timed_alone"]) if "timed_alone" in data else None  # None: every run's timing is reported
    timed = "median" if alone is None else "median over seeds whose pair was timed alone"
    if alone is not None:
        lines[-2] += (f" Wall-time ratios only from runs timed with nothing else on the machine ({len(alone)} of "
                      f"{len(data.get('runs', []))} runs); the others ran beside other work and are not a timing.")
    for task in data.get("tasks", {}):
        sac = runs.get((task, "sac"), {})
        lines += [f"### {task}", "", f"| arm | seeds | true return | fraction of true-reward SAC | wall time / SAC's ({timed}) |",
                  "|---|---|---|---|---|"]
        for arm in data.get("arms", {}):
            cell = runs.get((task, arm), {})
            fractions = [cell[s]["return_true"] / sac[s]["return_true"] for s in cell if s in sac and sac[s]["return_true"] > 0]
            ratios = [cell[s]["wall_seconds"] / sac[s]["wall_seconds"] for s in cell if s in sac
                      and (alone is None or (cell[s]["job"] in alone and sac[s]["job"] in alone))]
            goal = f" (goal ≥ {OFFPOLICY_GOALS[arm]})" if task == "walker_walk" and arm in OFFPOLICY_GOALS else ""
            fraction = "1 (the reference)" if arm == "sac" else fmt(ci(fractions), fraction=True)
            ratio = median(ratios)
            lines.append(f"| {arm} | {len(cell)} | {fmt(ci([r['return_true'] for r in cell.values()]))} | {fraction}{goal} | "
                         f"{f'{ratio:.2f}' if math.isfinite(ratio) else '–'} |")
        lines.append("")
    return lines


SUITE_PASS = 0.5
"""A seed passes a task's verifier when at least this share of its evaluation episodes do."""
SUITE_GOALS = {"ppo_seeds_passing": 3, "loop_share_of_ppo_success": 0.8, "loop_tasks": 4}
"""Issue 15: true-reward PPO passes in >= 3 of 5 seeds on every task; the loop reaches >= 0.8 of PPO's success
rate on at least 4 of the 6 tasks, the backflip among them."""


def _rate(run: dict[str, Any]) -> float | None:
    """A run's verifier success rate; None for a task without a verifier (``rate`` null) or an older result."""
    rate = (run.get("success") or {}).get("rate")
    return None if rate is None else float(rate)


def _suite_schedule(settings: dict[str, Any] | None) -> str:
    """How the suite's loop asked its labels (``conf/experiment/suite.yaml``), for the section's header."""
    lab = (settings or {}).get("labels")
    if not lab:
        return ""
    shares = "equal shares" if lab.get("schedule_timescale", 0) >= 1e6 else "a decaying rate"
    pretrain = int(((settings or {}).get("pretrain") or {}).get("steps") or 0)
    first = (f"after {pretrain:,} steps of PEBBLE's state-entropy pre-training, {lab['initial_fraction']:.0%} on the "
             "pre-trained policy") if pretrain else f"{lab['initial_fraction']:.0%} on the initial policy"
    return (f", {first} and the rest in {shares} over {lab['rounds']} "
            "rounds (`conf/experiment/suite.yaml`, `+experiment=suite` on the command line)")


def _suite_refit(runs: list[dict[str, Any]]) -> str:
    """The current loop runs' reward refit, for the section's header (a grid partly rerun says how it is split)."""
    loops = [r for r in runs if r["job"]["arm"] == "loop"]
    default = sum(bool((r.get("loop_refit") or {}).get("async_relabel")) for r in loops)
    synchronous = sum("loop_refit" not in r for r in loops)
    if not loops:
        return ""
    if default == len(loops):
        return ("; the loop's reward refit is the package's default (issue 13: in a worker process while PPO steps, "
                "the round's first rollout relabelled, each member stopped at 97 % training accuracy)")
    if synchronous == len(loops):
        return "; the loop's reward refit is the synchronous one the grid pinned until Dec 4"
    return (f"; the loop's reward refit: the package's default (issue 13) on {default} of {len(loops)} runs, the synchronous one "
            f"(until Dec 4) on {synchronous}, another on {len(loops) - default - synchronous}")


def _suite_arm(arm: str, cell: dict[int, dict[str, Any]], task_info: dict[str, Any]) -> str:
    """The arm as the table names it: a ``loop`` whose pre-training differs from the preset's at the task's budget
    (``preset_pretrain_steps``, recorded by ``suite.py``'s collect; a task's own ``benchmark_pretrain_steps``) says
    so, and so does one run with the task's own loop settings (``loop_task_settings``: its env config's
    ``benchmark_loop_settings``) or clip settings other than ``EnvConfig``'s defaults (``loop_segments``)."""
    if arm != "loop":
        return arm
    steps = {int((r.get("loop_pretrain") or {}).get("steps") or 0) for r in cell.values()}
    named = ([] if steps == {int(task_info.get("preset_pretrain_steps") or 0)} else
             ['no pre-training' if n == 0 else f'{n:,} steps of pre-training' for n in sorted(steps)])
    own = {override_item(k, v) for r in cell.values() for k, v in (r.get("loop_task_settings") or {}).items()}
    default = default_segments()
    clips = {override_item(f"env.{k}", v) for r in cell.values() for k, v in recorded_segments(r).items() if v != default[k]}
    named += [f"`{item}`" for item in sorted(clips | own)]
    return f"{arm} ({', '.join(named)})" if named else arm


def _episodes(runs: list[dict[str, Any]]) -> str:
    """The suite's evaluation episodes per run: ``50``, or ``50 (10 for ppo_x_seed0)`` where some runs differ."""
    episodes = [int(r.get("eval_episodes") or 0) for r in runs]
    if not episodes:
        return "the"
    usual = Counter(episodes).most_common(1)[0][0]
    odd = [f"{n} for {r['key']}" for r, n in zip(runs, episodes) if n != usual]
    return f"{usual}" + (f" ({', '.join(odd)})" if odd else "")


SYNCHRONOUS_LOOP = "loop, synchronous refit"
"""The table's name for the loop arm's set-aside runs made with the refit the grid pinned until Dec 4."""


def _synchronous_loop_runs(data: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per task, the set-aside loop runs that differ from the task's current loop runs only in their reward refit:
    the synchronous one (no ``loop_refit`` recorded, no ``--set`` overrides), on the same task version, budget, labels,
    pre-training, task settings and clips; the latest per seed."""
    current = {r["job"]["task"]: r for r in data.get("runs", []) if r["job"]["arm"] == "loop" and "loop_refit" in r}
    same = ("env_id", "steps", "labels", "loop_labels", "loop_pretrain")
    out: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in sorted(data.get("superseded_runs", []), key=lambda r: str(r.get("date", ""))):
        now = current.get(r["job"]["task"])
        if (now is not None and r["job"]["arm"] == "loop" and "loop_refit" not in r and not r.get("loop_overrides")
                and all(r.get(k) == now.get(k) for k in same)
                and r.get("loop_task_settings", {}) == now.get("loop_task_settings", {})
                and recorded_segments(r) == recorded_segments(now)):
            out[r["job"]["task"]][int(r["job"]["seed"])] = r
    return out


def _copy_of_grid_run(trial_run: dict[str, Any], grid_run: dict[str, Any], settings: dict[str, Any],
                      task: dict[str, Any]) -> bool:
    """Whether a trial's run is the grid's own run of that seed: the settings it ran with (the task's then with the
    trial's over them) are the task's now, pre-training included, and it scored what the grid's run scored. A trial
    the task then adopted would otherwise repeat the grid's row under a trial's name. A run whose scores differ (made
    on another CPU, say) is not a copy and keeps its row."""
    settings = dict(settings)
    if "pretrain.steps" in settings and int(settings["pretrain.steps"]) == int(task.get("loop_pretrain_steps") or 0):
        settings.pop("pretrain.steps")
    return (settings == task.get("loop_task_settings", {}) and trial_run.get("success") == grid_run.get("success")
            and trial_run.get("return_true") == grid_run.get("return_true"))


def _pretrain_of(run: dict[str, Any]) -> int:
    """Pre-training steps a loop run ran with: its trial's ``pretrain.steps`` where it set one, else the task's at the
    time, which the run recorded (``loop_pretrain``)."""
    overrides = run.get("loop_overrides") or {}
    return int(overrides.get("pretrain.steps", (run.get("loop_pretrain") or {}).get("steps")) or 0)


def _trial_loop_runs(data: dict[str, Any], trials: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[int, dict[str, Any]]]]:
    """Per task, per trial (its row name: ``loop, trial `KEY=VALUE` ``), the loop runs of ``suite.py --set`` trials
    (their own results files) made on the task's current version with the grid's labels, and (unless the trial sets
    pre-training itself) on the grid's pre-training for the task: a trial run on a base the grid has since left
    compares with nothing in the table, except on held-out seeds, where the grid has no run of its own and the row
    is named by its pre-training (``…, without pre-training, held-out seeds …``); likewise for its clips
    (``loop_segments``: a trial made on other clips than the task's now, unless it set them itself). One made on other task loop settings (``loop_task_settings``, e.g.
    before the task adopted its own) is kept and its name says so (``…, without `selection.name=entropy` ``). Also the
    grid's loop at another budget (``suite.py --steps N``: ``loop, trial at N steps``) and on seeds the grid does not
    run (``--seeds 5 6 …``: ``…, held-out seeds``); a run with the grid's settings, budget and seed is not a trial."""
    out: dict[str, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    grid_loop = {(r["job"]["task"], int(r["job"]["seed"])): r for r in data.get("runs", []) if r["job"]["arm"] == "loop"}
    grid_seeds = set(grid_loop)
    for trial in trials:
        for r in trial.get("runs", []):
            task = data.get("tasks", {}).get(r["job"]["task"])
            if task is None or r["job"]["arm"] != "loop" or r.get("labels") != data.get("labels") or r.get("env_id") != task.get("env_id"):
                continue
            other_budget = r.get("steps") != task.get("steps")
            held_out = (r["job"]["task"], int(r["job"]["seed"])) not in grid_seeds
            overrides = r.get("loop_overrides") or {}
            if not (overrides or other_budget or held_out):
                continue  # the grid's own settings, budget and seeds: a copy of a grid run, not a trial
            made_pretrain, task_pretrain = _pretrain_of(r), int(task.get("loop_pretrain_steps") or 0)
            other_pretrain = ("pretrain.steps" not in overrides and "loop_pretrain_steps" in task
                              and made_pretrain != task_pretrain)
            if other_pretrain and not held_out:
                continue  # the grid's seeds on a pre-training the grid has since left: its superseded runs, no trial
            clips = recorded_segments(r)
            if any(clips[k] != v and f"env.{k}" not in overrides for k, v in task.get("loop_segments", {}).items()):
                continue  # made on other clips than the task's env config now cuts, which the trial does not set
            made, now = r.get("loop_task_settings", {}), task.get("loop_task_settings", {})
            grid_run = grid_loop.get((r["job"]["task"], int(r["job"]["seed"])))
            if not other_budget and grid_run is not None and _copy_of_grid_run(r, grid_run, {**made, **overrides}, task):
                continue  # the trial whose settings the task adopted: its runs are the grid's row already
            # on held-out seeds, pre-training set to what the task has since adopted is the task's own, not a trial's
            # (on the grid's seeds such a run is the grid's, or one that scored otherwise and keeps the trial's name)
            adopted = held_out and "pretrain.steps" in overrides and made_pretrain == task_pretrain
            what = [f"`{override_item(k, v)}`" for k, v in sorted(overrides.items())
                    if not (adopted and k == "pretrain.steps")]
            what += [f"at {int(r['steps']):,} steps (PPO not run there)"] if other_budget else []
            name = ("loop, trial " + ", ".join(what)) if what else "loop"
            if other_pretrain:  # held-out seeds run before the task changed its pre-training: named, beside the rest
                name += f", with {made_pretrain:,} steps of pre-training" if made_pretrain else ", without pre-training"
            # made before the task adopted its own loop settings (or other ones), which the trial does not set: named
            for k in sorted(k for k in {*made, *now} if made.get(k) != now.get(k) and k not in overrides):
                name += f", with `{override_item(k, made[k])}`" if k in made else f", without `{override_item(k, now[k])}`"
            name += ", held-out seeds" if held_out else ""
            out[r["job"]["task"]][name][int(r["job"]["seed"])] = r
    for by_trial in out.values():  # held-out rows name their seeds: the table's by-seed column does not
        for name in [n for n in by_trial if n.endswith("held-out seeds")]:
            cell = by_trial.pop(name)
            by_trial[f"{name} {', '.join(map(str, sorted(cell)))}"] = cell
    return out


def _held_out_ppo_runs(data: dict[str, Any], trials: Sequence[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per task, true-reward PPO on seeds the grid does not run (``suite.py --seeds 5 6 …``, results in a trial file)
    with the grid's task version, budget and PPO settings: the reference for the loop's held-out seeds."""
    tasks = data.get("tasks", {})
    grid = {(r["job"]["task"], int(r["job"]["seed"])) for r in data.get("runs", []) if r["job"]["arm"] == "ppo"}
    out: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for trial in trials:
        for r in trial.get("runs", []):
            task, seed, info = r["job"]["task"], int(r["job"]["seed"]), tasks.get(r["job"]["task"])
            if (info is None or r["job"]["arm"] != "ppo" or (task, seed) in grid or r.get("env_id") != info.get("env_id")
                    or r.get("steps") != info.get("steps")
                    or (r.get("ppo") is not None and info.get("ppo") is not None and r["ppo"] != info["ppo"])):
                continue
            out[task][seed] = r
    return out


def _with_held_out_seeds(data: dict[str, Any], trials: Sequence[dict[str, Any]],
                         held_out_ppo: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    """Per task whose two arms both ran on held-out seeds (``suite.py --seeds 5 6 …``, results in a trial file) with
    the grid's settings: each arm's mean success over the grid's seeds and those, and the loop's share of PPO's; then
    the goal counted with each task on every seed both its arms ran (the others on the grid's), beside the grid's
    count, never instead of it. A held-out loop run counts when the settings it ran with (the task's own with a
    trial's over them), its pre-training and its clips are the grid's loop's now; PPO's are ``held_out_ppo``
    (``_held_out_ppo_runs``)."""
    tasks = data.get("tasks", {})
    seeds: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in data.get("runs", []):
        if (rate := _rate(r)) is not None:
            seeds[(r["job"]["task"], r["job"]["arm"])][int(r["job"]["seed"])] = rate
    grid = {key: set(cell) for key, cell in seeds.items()}
    for task, cell in held_out_ppo.items():
        for seed, r in cell.items():
            if (rate := _rate(r)) is not None:
                seeds[(task, "ppo")][seed] = rate
    for trial in trials:
        for r in trial.get("runs", []):
            task, arm, seed = r["job"]["task"], r["job"]["arm"], int(r["job"]["seed"])
            info, rate = tasks.get(task), _rate(r)
            if (arm != "loop" or info is None or rate is None or seed in grid.get((task, arm), ())
                    or r.get("env_id") != info.get("env_id") or r.get("steps") != info.get("steps")):
                continue
            settings = {**(r.get("loop_task_settings") or {}), **(r.get("loop_overrides") or {})}
            settings.pop("pretrain.steps", None)  # pre-training is no task setting: compared on its own below
            if (r.get("labels") != data.get("labels") or settings != (info.get("loop_task_settings") or {})
                    or _pretrain_of(r) != int(info.get("loop_pretrain_steps") or 0)
                    or ("loop_segments" in info and recorded_segments(r) != info["loop_segments"])):
                continue
            seeds[(task, "loop")][seed] = rate
    parts, met, widened, settled_above, settled_below = [], [], [], [], []
    goal = SUITE_GOALS["loop_share_of_ppo_success"]
    for task in tasks:
        ppo, loop = seeds.get((task, "ppo"), {}), seeds.get((task, "loop"), {})
        held_out = (set(ppo) - grid.get((task, "ppo"), set())) & (set(loop) - grid.get((task, "loop"), set()))
        if held_out and set(ppo) != set(loop):  # one arm's seed missing: each arm on the seeds both ran
            ppo, loop = ({s: v for s, v in arm.items() if s in ppo and s in loop} for arm in (ppo, loop))
        if not ppo or not loop:
            continue
        base, ours = float(np.mean(list(ppo.values()))), float(np.mean(list(loop.values())))
        if base > 0 and ours >= SUITE_GOALS["loop_share_of_ppo_success"] * base:
            met.append(task)
        if not held_out:
            continue
        widened.append(task)
        low, high, held = share_interval(list(loop.values()), list(ppo.values()), goal)
        if low >= goal:
            settled_above.append(task)
        elif high < goal:
            settled_below.append(task)
        bounds = ", ".join("∞" if math.isinf(x) else f"{x:.2f}" for x in (low, high))
        share = f", {ours / base:.2f} of it [{bounds}], ≥ {goal} of it in {held:.0%} of draws" if base > 0 else ""
        passing = sum(x >= SUITE_PASS for x in ppo.values())
        parts.append(f"{task} on {len(ppo)} seeds (held out: {', '.join(map(str, sorted(held_out)))}): the loop "
                     f"{ours:.2f} against PPO's {base:.2f}{share} (PPO passes on {passing} of {len(ppo)})")
    if not parts:
        return []
    backflip = "the backflip among them" if "hopper_backflip" in met else "the backflip not among them"
    return ["", "With held-out seeds (both arms run on seeds the grid does not, with the grid's settings; not in the "
                "goal count above): " + "; ".join(parts) + ". Counted so, each task on every seed both its arms ran "
                f"({', '.join(widened)} on these, the rest on the grid's), the loop reaches ≥ "
                f"{goal} of PPO's success rate on {len(met)} tasks "
                f"({', '.join(met) or 'none'}), {backflip}. How far the seeds settle each share: its 95 % interval "
                f"(in brackets; each arm's seeds resampled on their own, {SHARE_DRAWS:,} draws) lies above {goal} for "
                f"{', '.join(settled_above) or 'none'}, below it for {', '.join(settled_below) or 'none'}, and spans "
                f"it for {', '.join(t for t in widened if t not in settled_above + settled_below) or 'none'}."]


SHARE_DRAWS = 2000
"""Bootstrap draws behind each task's interval of the loop's share of PPO's success."""


def share_interval(loop: Sequence[float], ppo: Sequence[float], goal: float, reps: int = SHARE_DRAWS,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """How far seeds settle the loop's share of PPO's mean success: each arm's per-seed rates resampled on their
    own (the arms share no randomness; a seed number is only a label), ``reps`` times with a fixed generator. Returns
    the share's percentile interval (``inf`` where a draw gives PPO no success and the loop some) and the fraction
    of draws in which the loop reaches ``goal`` × PPO's mean with PPO's above 0, as the goal is counted."""
    ours, base = np.asarray(loop, dtype=float), np.asarray(ppo, dtype=float)
    if ours.size == 0 or base.size == 0:
        raise ValueError(f"share_interval needs both arms' rates; got {ours.size} loop and {base.size} PPO seeds")
    rng = np.random.default_rng(0)
    m_ours = ours[rng.integers(0, ours.size, size=(reps, ours.size))].mean(axis=1)
    m_base = base[rng.integers(0, base.size, size=(reps, base.size))].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = m_ours / m_base
    share = share[~np.isnan(share)]  # both arms at 0 in a draw: no share
    alpha = (1 - confidence) / 2
    # order statistics, not interpolated between them: a draw's share may be ∞
    low, high = np.quantile(share, [alpha, 1 - alpha], method="nearest") if share.size else (math.nan, math.nan)
    held = float(np.mean((m_base > 0) & (m_ours >= goal * m_base)))
    return float(low), float(high), held


def _suite_machines(runs: Sequence[dict[str, Any]]) -> str:
    """Which CPU made each task's grid runs (runs are deterministic per machine, not across CPUs), named where the
    grid's runs come from more than one; a task whose arms ran on different CPUs is named as such."""
    by_task: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        by_task[r["job"]["task"]].add(str(r.get("machine", {}).get("cpu", "unknown")))
    cpus = sorted({c for cs in by_task.values() for c in cs})
    if len(cpus) < 2:
        return ""
    named = "; ".join(f"{cpu}: {', '.join(t for t, cs in by_task.items() if cs == {cpu}) or '–'}" for cpu in cpus)
    mixed = [t for t, cs in by_task.items() if len(cs) > 1]
    return (f" Runs are deterministic per CPU, not across CPUs; tasks by the CPU that made all their runs: {named}"
            + (f"; tasks whose runs were made on more than one CPU: {', '.join(mixed)}" if mixed else "") + ".")


def suite_section(data: dict[str, Any], trials: Sequence[dict[str, Any]] = ()) -> list[str]:
    """``benchmarks/suite.py``: per suite task, true-reward PPO and the loop with the rubric teacher at the task's
    budget: verifier success rate (mean and per seed), true return IQM [95 % CI], fraction of true-reward PPO. Where
    the loop's runs with the synchronous refit (pinned until Dec 4) are kept at the same version and budget, they
    get a row of their own beside the current loop's, for comparison (not counted in the goals); so does each
    ``--set`` trial in ``trials`` (its results file) made at the task's current version and budget."""
    runs: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in data.get("runs", []):
        runs[(r["job"]["task"], r["job"]["arm"])][int(r["job"]["seed"])] = r
    for task, cell in _synchronous_loop_runs(data).items():
        runs[(task, SYNCHRONOUS_LOOP)] = cell
    trial_arms: dict[str, list[str]] = defaultdict(list)
    held_out_ppo = _held_out_ppo_runs(data, trials)
    for task, cell in held_out_ppo.items():
        name = f"ppo, held-out seeds {', '.join(map(str, sorted(cell)))}"
        runs[(task, name)] = cell
        trial_arms[task].append(name)
    for task, by_trial in _trial_loop_runs(data, trials).items():
        for name, cell in sorted(by_trial.items()):
            runs[(task, name)] = cell
            trial_arms[task].append(name)
    lines = [
        "## The suite as a benchmark: success rates at each task's budget",
        "",
        f"`benchmarks/suite.py` ({data.get('jobs_done', 0)} of {data.get('jobs_in_grid', '?')} jobs; budgets: "
        f"{data.get('budget_source', '?')}; the loop with {data.get('labels', '?'):,} rubric-teacher labels"
        f"{_suite_schedule(data.get('loop_settings'))}{_suite_refit(data.get('runs', []))}; commit "
        f"{str(data.get('commit', '?'))[:7]}, {data.get('machine', {}).get('cpu', '?')}, {data.get('date', '?')}). "
        f"Success rate: share of {_episodes(data.get('runs', []))} evaluation episodes whose last step passes the task's verifier "
        f"(`info['is_success']`); a seed passes when its rate is ≥ {SUITE_PASS}. True return: IQM over seeds [95 % "
        "bootstrap CI]; fraction: each seed's return over true-reward PPO's with the same seed and steps."
        + (" Rows named `loop, trial …` are `suite.py --set` trials of the loop's settings (their own results files, "
           "`suite_calibrated_set-….json`) or of its budget (`--steps`, `suite_steps….json`), and rows naming "
           "`held-out seeds` either arm on seeds outside the grid's (`--seeds`), beside the grid's rows and not counted "
           "in the goals." if trials else "")
        + _suite_machines(data.get("runs", [])),
        "",
        "| task | steps | arm | seeds | success rate, mean | by seed | seeds passing | true return | fraction of true-reward PPO |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    loop_ok: list[str] = []
    ppo_ok: list[str] = []
    for task, info in data.get("tasks", {}).items():
        ppo = {**runs.get((task, "ppo"), {}), **held_out_ppo.get(task, {})}  # the reference on each seed
        mean_rate: dict[str, float | None] = {}
        for arm in ("ppo", "loop", SYNCHRONOUS_LOOP, *trial_arms.get(task, [])):
            cell = runs.get((task, arm), {})
            if not cell:
                continue
            rates = {seed: _rate(r) for seed, r in sorted(cell.items())}
            measured = [x for x in rates.values() if x is not None]
            mean_rate[arm] = float(np.mean(measured)) if measured else None
            no_verifier = not measured
            passing = sum(x >= SUITE_PASS for x in measured)
            by_seed = ", ".join("n/a" if x is None else f"{x:.2f}" for x in rates.values())
            fractions = [r["return_true"]["mean"] / ppo[s]["return_true"]["mean"] for s, r in cell.items()
                         if s in ppo and ppo[s]["return_true"]["mean"] > 0 and r["return_true"]["mean"] >= 0
                         and r.get("steps") == ppo[s].get("steps")]  # PPO's return at another budget is no reference
            fraction = "1 (the reference)" if arm.startswith("ppo") else fmt(ci(fractions), fraction=True)
            lines.append(
                f"| {task} | {int(info.get('steps', 0)):,} | {_suite_arm(arm, cell, info)} | {len(cell)} | "
                f"{'n/a (no verifier)' if no_verifier else f'{mean_rate[arm]:.2f}'} | {by_seed} | "
                f"{'n/a' if no_verifier else f'{passing} of {len(cell)}'} | "
                f"{fmt(ci([r['return_true']['mean'] for r in cell.values()]))} | {fraction} |")
            if arm == "ppo" and passing >= SUITE_GOALS["ppo_seeds_passing"]:
                ppo_ok.append(task)
            if arm not in ("ppo", "loop"):
                mean_rate.pop(arm)
        base, ours = mean_rate.get("ppo"), mean_rate.get("loop")
        if base is not None and ours is not None and base > 0 and ours >= SUITE_GOALS["loop_share_of_ppo_success"] * base:
            loop_ok.append(task)
    tasks = list(data.get("tasks", {}))
    ppo_verdict = "goal met" if tasks and len(ppo_ok) == len(tasks) else "goal not met"
    if len(loop_ok) < SUITE_GOALS["loop_tasks"]:
        loop_verdict = f"goal not met: fewer than {SUITE_GOALS['loop_tasks']} tasks"
    elif "hopper_backflip" not in loop_ok:
        loop_verdict = "goal not met: the backflip is not among them"
    else:
        loop_verdict = "goal met"
    lines += ["", f"Goals (issue 15): true-reward PPO passes in ≥ {SUITE_GOALS['ppo_seeds_passing']} seeds on every task — "
                  f"met on {len(ppo_ok)} of {len(tasks)} ({', '.join(ppo_ok) or 'none'}; {ppo_verdict}); the loop reaches ≥ "
                  f"{SUITE_GOALS['loop_share_of_ppo_success']} of PPO's success rate on ≥ {SUITE_GOALS['loop_tasks']} tasks, "
                  f"the backflip among them — met on {len(loop_ok)} ({', '.join(loop_ok) or 'none'}; {loop_verdict})."]
    lines += _with_held_out_seeds(data, trials, held_out_ppo)
    if data.get("jobs_remaining"):
        lines += ["", f"Partial: {len(data['jobs_remaining'])} jobs of the grid have not run."]
    return lines


def suite_calibration_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/suite_calibration.py``: per suite task, PPO on the hidden objective's learning curve of verifier
    success, how many seeds pass at best, and the calibrated budget once five seeds have run."""
    tasks, runs = data.get("tasks", {}), data.get("runs", [])
    lines = ["## Calibrating the suite: when does PPO on the hidden objective pass the verifier?", ""]
    done = [r for r in runs if r.get("finished", True)]
    if not done:
        return lines + ["`benchmarks/suite_calibration.py` has no finished runs yet."]
    lines.append(
        f"`benchmarks/suite_calibration.py` ({len(runs)} runs; commit {str(data.get('commit', '?'))[:7]}, "
        f"{data.get('machine', {}).get('cpu', '?')}, {data.get('date', '?')}). SB3 PPO with the loop's PPO settings on "
        f"each task's true reward, evaluated every {done[0]['eval_every']:,} steps on {done[0]['eval_episodes']} "
        f"episodes. A seed passes at a checkpoint when ≥ {data['pass_rate']} of the episodes succeed; the calibrated "
        f"budget is the first checkpoint where ≥ {data['pass_seeds']} of {data['seeds_for_a_budget']} seeds pass, counted "
        "only up to the step every seed has reached (a seed run to a smaller ceiling, or unfinished, counts as far as it "
        "got). The last column is the sturdier reading: the first checkpoint from which that many seeds pass at every "
        "checkpoint all seeds reached. The first checkpoint with enough passing seeds can be a lucky draw of 10 "
        "evaluation episodes per seed, and the suite's own PPO runs at the calibrated budget passed on fewer seeds "
        "than calibration did (HalfCheetahOneLeg, Walker). Curves: `benchmarks/results/suite_calibration.png`.")
    lines += ["", "| task | seeds run | first passing checkpoint, by seed | most seeds passing at one checkpoint | "
                  "final success rate, by seed | final true return, by seed | calibrated budget | "
                  f"≥ {data['pass_seeds']} pass at every later checkpoint from |",
              "|---|---|---|---|---|---|---|---|"]
    for task, row in tasks.items():
        first = ", ".join("never" if s is None else f"{int(s):,}" for s in row["first_pass_by_seed"].values())
        rates = ", ".join("n/a" if r is None else f"{r:.1f}" for r in row["final_success_rate_by_seed"])
        rets = ", ".join(f"{r:.0f}" for r in row["final_return_by_seed"])
        budget = row["calibrated_budget"]
        budget_text = (f"{int(budget):,}" if budget is not None else
                       "not yet (fewer seeds than needed)" if len(row["seeds"]) < data["seeds_for_a_budget"]
                       else "not yet (runs unfinished)" if row.get("unfinished_seeds")
                       else f"none within {int(min(row['last_checkpoint_by_seed'])):,} steps")
        if budget is None and row.get("budget_at_most") is not None:
            budget_text += f"; at most {int(row['budget_at_most']):,} (3 seeds pass there)"
        seeds = ", ".join(f"{seed} (unfinished: to {int(last):,} steps)" if seed in row.get("unfinished_seeds", []) else str(seed)
                          for seed, last in zip(row["seeds"], row.get("last_checkpoint_by_seed", row["seeds"])))
        held = row.get("sustained_from")
        held_text = ("—" if held is None else
                     f"{int(held):,} ({row['sustained_checkpoints']} checkpoint{'s' if row['sustained_checkpoints'] != 1 else ''} "
                     f"to {int(min(row['last_checkpoint_by_seed'])):,})")
        lines.append(f"| {task} | {seeds} | {first} | {row['best_passing_seeds']} of "
                     f"{len(row['seeds'])} | {rates} | {rets} | {budget_text} | {held_text} |")
    return lines


def backflip_loop_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/backflip_loop_diagnosis.py``: what a backflip loop run's clips held, what its policy does and
    what its learned reward pays for, per run."""
    lines = ["## The backflip through the loop: clips, policy, learned reward", "",
             "What each loop run's labelled clips held, what its policy does and what its learned reward pays for. "
             "Runs without pre-training (most rows) never landed a flip over 5 seeds: most learned to stand, since the "
             "initial policy's clips hardly turn and the first reward model pays height; a larger entropy bonus "
             "(`ppo.ent_coef=0.01`) did not change that. With 100,000 steps of PEBBLE's state-entropy pre-training "
             "(`pretrain.steps=100000`, rows so marked) the first labels see a policy that turns over, and 4 of 5 seeds "
             "landed flips — the suite's loop setting since (`conf/experiment/suite.yaml`).", "",
             f"`{data.get('command', 'benchmarks/backflip_loop_diagnosis.py')}` (commit {str(data.get('commit', '?'))[:7]}, "
             f"{data.get('date', '?')})"
             + (f", beside the rows of {len(data['earlier_commands'])} earlier invocation(s) (their commands in the JSON)"
                if data.get("earlier_commands") else "") + ". Learned and true reward per state class: the class mean minus the on-ground "
             "mean, in standard deviations of each reward over the run's last 3 segment batches. v2's objective pays "
             "nothing for turning past the flip's allowance and v3's charges it; a positive learned value there is "
             "over-rotation the learned reward still pays. The last column reads the final reward model on every labelled "
             "clip: the teacher prefers nearly every clip with a landing (400 on its step), so a model that has learned "
             "its labels gives them the higher return; the column after it is the learned and true step reward of a flip's "
             "last 0.5 rad, which the objective pays as it pays the flip's other radians. One seed per run: these are probes, not a result.", "",
             "| run | task | steps | labels | labels per round: initial; first later → last | accuracy vs oracle | step correlation | clips with a landing | policy: landings / "
             "episodes | turns (median) | final torso height (m) | turning within the allowance: learned, true (SD) | "
             "turning past it: learned, true (SD) | labelled clips with a landing: learned return, with / without | "
             "a flip's last 0.5 rad: learned, true (SD) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def task(run: dict[str, Any]) -> str:
        kwargs = ", ".join(f"{k}={v}" for k, v in (run.get("env_kwargs") or {}).items())
        return str(run.get("env_id") or "?").split("/")[-1] + (f" ({kwargs})" if kwargs else "")

    def schedule(counts: list[int] | None) -> str:
        if not counts or len(counts) < 2:
            return "–"
        return f"{counts[0]}; {counts[1]} → {counts[-1]} ({len(counts) - 1} rounds)"

    for run in data.get("runs", []):
        clips, pol, lr = run["clips"], run["policy"], run["learned_reward"]

        def pair(name: str, lr: dict[str, Any] = lr) -> str:
            c = lr.get(name, {})
            if "learned_minus_ground_in_sd" not in c:
                return f"no such steps ({c.get('steps', 0)})"
            return f"{c['learned_minus_ground_in_sd']:+.2f}, {c['true_minus_ground_in_sd']:+.2f} ({c['steps']:,} steps)"

        acc, corr = run.get("reward_model_accuracy_vs_oracle"), run.get("reward_correlation_step")
        lines.append(
            f"| `{run['run_dir']}`{''.join(f' {k}={v}' for k, v in (run.get('settings') or {}).items())} | {task(run)} | {run.get('steps') or '?':,} | {run.get('labels') or '?':,} | "
            f"{schedule(run.get('label_schedule'))} | "
            f"{'–' if acc is None else f'{acc:.3f}'} | {'–' if corr is None else f'{corr:.2f}'} | "
            f"{sum(c['segments_with_a_landing'] for c in clips)} of {sum(c['segments'] for c in clips):,} | "
            f"{pol['episodes_with_a_landing']} / {pol['episodes']} | {pol['turns_median']:.2f} | "
            f"{pol['final_torso_height_median']:.2f} | {pair('turning_within_the_allowance')} | "
            f"{pair('turning_past_the_allowance')} | {landing(run.get('landing_clips') or {})} | "
            f"{flip_end((run.get('landing_clips') or {}).get('by_rotation_left') or [])} |")
    return lines


def flip_end(bins: list[dict[str, Any]]) -> str:
    """A backflip diagnosis row's learned and true step reward with 0-0.5 rad of the flip left ("–" if not read)."""
    row = next((b for b in bins if b["rotation_left_rad"][0] == 0.0), None)
    if row is None or "learned_minus_ground_in_sd" not in row:
        return "–"
    return f"{row['learned_minus_ground_in_sd']:+.2f}, {row['true_minus_ground_in_sd']:+.2f} ({row['steps']:,} steps)"


def landing(clips: dict[str, Any]) -> str:
    """A backflip diagnosis row's landing clips: the final reward model's mean return for the labelled clips that hold
    a landing and for the others (true returns in brackets); "–" for rows read before it was measured."""
    if "learned_return_with_a_landing" not in clips:
        return "–" if not clips else f"none of {clips['clips']:,} clips"
    return (f"{clips['learned_return_with_a_landing']:.1f} / {clips['learned_return_without']:.1f} "
            f"(true {clips['true_return_with_a_landing']:.0f} / {clips['true_return_without']:.0f}; "
            f"{clips['clips_with_a_landing']} clips)")


def annotator_reliability_section(data: dict[str, Any]) -> list[str]:
    """Simulated annotators of mixed quality through the app's HTTP API: reliability model vs equal weights."""
    table = data.get("normalized_score", {})
    errors = data.get("annotators_true_error", {})
    estimates = data.get("estimated_reliability_all_runs", {})
    per_pair = (data.get("overlap") or [2])[0]
    lines = [
        f"## Annotators of mixed quality: a reliability model against equal weights ({per_pair} answer"
        f"{'s' if per_pair > 1 else ''} per pair)",
        "",
        "Four simulated annotators label a live `labels.source=human` run through the app's HTTP API (`GET /api/next`, "
        "`POST /api/submit`): an oracle, B-Pref mistake teachers with ε = 0.1 and 0.3, and a random responder; each pair "
        f"goes to {'two of them' if per_pair == 2 else 'one of them' if per_pair == 1 else f'{per_pair} of them'}, with "
        "10 % gold questions and 5 % mirrored repeats. Arms: `labels.reliability=none` (every "
        "label the same) and `dawid_skene` (each label weighted by its annotator's fitted log-odds). Fraction of "
        "true-reward PPO: (ours − random policy) / (PPO on the true reward − random policy), same task, seed and steps; "
        "IQM over seeds [95 % bootstrap CI]. Method, budget and why: the docstring of "
        "`benchmarks/annotator_reliability.py`.",
        "",
        *_provenance_lines(data, data.get("runs_provenance") or [data]),
        f"- Command: `{data.get('command', '')}`; runs: {data.get('runs', 0)}.",
        "",
        "| task / arm | seeds | normalised score (0 = random, 1 = true-reward PPO), IQM [95 % CI] | by seed | labels used |",
        "|---|---|---|---|---|",
    ]
    for key, row in table.items():
        lines.append(f"| {key} | {', '.join(map(str, row['seeds']))} | {row['iqm']:.2f} [{row['ci95'][0]:.2f}, "
                     f"{row['ci95'][1]:.2f}] | {', '.join(f'{x:.2f}' for x in row['normalized_score'])} | "
                     f"{', '.join(map(str, row['labels_used']))} |")
    envs = sorted({key.split("/")[0] for key in table})
    gaps = [f"{env}: {table[f'{env}/dawid_skene']['iqm'] - table[f'{env}/equal']['iqm']:+.2f}" for env in envs
            if f"{env}/dawid_skene" in table and f"{env}/equal" in table]
    if gaps:
        overlap = all(table[f"{env}/dawid_skene"]["ci95"][0] <= table[f"{env}/equal"]["ci95"][1]
                      and table[f"{env}/equal"]["ci95"][0] <= table[f"{env}/dawid_skene"]["ci95"][1]
                      for env in envs if f"{env}/dawid_skene" in table and f"{env}/equal" in table)
        lines += ["", f"Reliability model minus equal weights (IQM): {', '.join(gaps)}"
                      + ("; the intervals overlap, so no difference is shown at this budget." if overlap else ".")]
    lines += ["", "| annotator | true reliability (1 − ε) | estimated, each run | mean |", "|---|---|---|---|"]
    for name, eps in errors.items():
        est = [x for x in estimates.get(name, []) if x is not None]
        lines.append(f"| {name} | {1 - eps:.2f} | {', '.join(f'{x:.2f}' for x in est)} | "
                     f"{(sum(est) / len(est)) if est else math.nan:.2f} |")
    lines += ["", f"The fitted order matches the true order in {data.get('order_recovered_runs', 0)} of "
                  f"{data.get('runs', 0)} runs. Figure: `benchmarks/results/annotator_reliability"
                  f"{'' if per_pair == 2 else f'_overlap{per_pair}'}.png`."]
    return lines


LABEL_SCALING_GOALS = "IQM over the four tasks ≥ 0.9 of true-reward PPO at 100 labels and ≥ 0.8 at 50; ≥ 0.8 at 700 labels with 30 % mistakes"


def scaling_cell(c: dict[str, Any], note: str = "") -> str:
    """One label-scaling cell: IQM [CI] of the fractions; of the scores (n seeds``note``)."""
    return (f"{fmt(ci(c['fraction']), fraction=True)}; {fmt(ci(c['score']), fraction=True)} "
            f"(n={max(len(c['fraction']), len(c['score']))}{note})")


def held_out_verdict(pairs: dict[str, Any], n_tasks: int, arm: str = "best", margin: float | None = None,
                     seeds: Sequence[int] = (5, 6, 7, 8, 9)) -> list[str]:  # label_scaling.HELD_OUT_SEEDS
    """The held-out check in words: ``arm`` minus ``default`` paired by (task, seed) over ``seeds``, mean with a 95 %
    bootstrap interval. Without ``margin``, ``arm`` beats ``default`` only where the interval of the score difference
    lies above 0; with one (a change meant to cost less, not to learn more), ``arm`` is not worse where it lies above
    ``-margin``."""
    span = f"seeds {min(seeds)}–{max(seeds)}"
    if not pairs["pairs"]:
        return [f"Held-out check of `{arm}` ({span}, 100 labels): no pair has run yet.", ""]
    n = len(pairs["pairs"])
    rng = np.random.default_rng(0)
    mean = lambda x: float(np.mean(x))  # noqa: E731
    frac, score = (bootstrap_ci(np.asarray(pairs[k], dtype=float), mean, rng) for k in ("fraction", "score"))
    wins = sum(d > 0 for d in pairs["score"])
    complete = n == n_tasks * len(seeds)
    so_far = "" if complete else " so far"
    if margin is None:
        ok = bool(score.n) and score.low > 0
        verdict = (f"`{arm}` beats `default` on the held-out seeds." if ok else
                   f"`{arm}` does not beat `default` on the held-out seeds{so_far}, so the default is unchanged.")
    else:
        ok = bool(score.n) and score.low > -margin
        verdict = (f"`{arm}` is not worse than `default` on the held-out seeds{so_far} (the score difference's CI "
                   f"lies above −{margin:.2f})." if ok else
                   f"`{arm}` is not shown to be no worse than `default` on the held-out seeds{so_far} (the score "
                   f"difference's CI reaches below −{margin:.2f}), so the default is unchanged.")
    return [f"Held-out check of `{arm}` ({span}, 100 oracle labels, {n} of {n_tasks * len(seeds)} (task, seed) pairs"
            f"{so_far}): `{arm}` − `default`, mean over pairs [95 % bootstrap CI], in the "
            f"fraction of true-reward PPO {frac.point:+.2f} [{frac.low:+.2f}, {frac.high:+.2f}] and in the score "
            f"{score.point:+.2f} [{score.low:+.2f}, {score.high:+.2f}]; `{arm}` scores higher on {wins} of "
            f"{len(pairs['score'])} pairs. Verdict: {verdict}", ""]


def label_scaling_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/label_scaling.py``: the loop's fraction of true-reward PPO and score against a fixed reference by
    label budget, per arm and task."""
    sys.path.insert(0, str(HERE))
    from label_scaling import (  # noqa: PLC0415  (a sibling script)
        HELD_OUT_SEEDS,
        TECHNIQUES,
        across_tasks,
        held_out_pairs,
        scaling_table,
    )

    table = scaling_table(data)
    lines = [
        "## Label scaling: 25 to 700 labels, the techniques of issue 13, wrong labels",
        "",
        f"`benchmarks/label_scaling.py` ({data.get('jobs_done', 0)} of {data.get('jobs_in_grid', '?')} jobs; commit "
        f"{str(data.get('commit', '?'))[:7]}, {data.get('machine', {}).get('cpu', '?')}, {data.get('date', '?')}). "
        "Each cell: IQM over seeds [95 % bootstrap CI] of the fraction of true-reward PPO with the same seed and steps, "
        "then of the score against rl-baselines3-zoo's published PPO return (random = 0, reference = 1). "
        f"Goals: {LABEL_SCALING_GOALS}. Plot: `benchmarks/results/label_scaling.png`.",
        "",
    ]
    if data.get("best"):
        lines += [f"`best` is the combination chosen from the technique screen: `{' '.join(data['best'])}` "
                  "(`BEST` in `benchmarks/label_scaling.py` says why); it becomes the default only if it beats "
                  "`default` on the held-out seeds 5–9.", ""]
        lines += held_out_verdict(held_out_pairs(data), len(data.get("tasks", [])))
    for arm, constant in (("cheap_refit", "CHEAP_REFIT"), ("early_refit", "EARLY_REFIT"),
                          ("relabel_refit", "RELABEL_REFIT")):
        if not data.get(arm) or (arm != "cheap_refit" and not held_out_pairs(data, arm)["pairs"]):
            continue
        lines += [f"`{arm}` is a cheaper refit of issue 13's: `{' '.join(data[arm])}` (`{constant}` in "
                  "`benchmarks/label_scaling.py` says why); meant to cost less, not to learn more, it runs on the "
                  "held-out seeds only and may become the default if it is not worse there.", ""]
        lines += held_out_verdict(held_out_pairs(data, arm), len(data.get("tasks", [])), arm,
                                  float(data.get("non_inferiority_margin") or 0.1),
                                  data.get("held_out_seeds", {}).get(arm) or HELD_OUT_SEEDS)
    labels = sorted({n for cells in table.values() for task in cells.values() for n in task})
    pooled = across_tasks(data)
    n_tasks = len(data.get("tasks", []))
    lines += ["### All tasks pooled", "",
              f"IQM over every (task, seed) of the row and budget; a cell without all {n_tasks} tasks names how many it has "
              "(the technique screen's rows, on one task, are in that task's table).",
              "", "| arm | " + " | ".join(f"{n} labels" for n in labels) + " |", "|---|" + "---|" * len(labels)]
    for row, by_labels in pooled.items():
        if row in TECHNIQUES:
            continue
        cells = []
        for n in labels:
            c = by_labels.get(n)
            if not c:
                cells.append("–")
                continue
            partial = "" if len(c["tasks"]) == n_tasks else f", {len(c['tasks'])} of {n_tasks} tasks"
            cells.append(scaling_cell(c, partial))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines.append("")
    for task in data.get("tasks", []):
        arms = [a for a in table if task in table[a]]
        if not arms:
            continue
        lines += [f"### {task}", "", "| arm | " + " | ".join(f"{n} labels" for n in labels) + " |",
                  "|---|" + "---|" * len(labels)]
        for arm in arms:
            by_n = table[arm][task]
            lines.append(f"| {arm} | " + " | ".join("–" if not by_n.get(n) else scaling_cell(by_n[n]) for n in labels) + " |")
        lines.append("")
    return lines


LM_STAGES = ("pretrain", "sft", "ppo", "dpo", "grpo", "rloo", "best_of_n")


def _interval_text(interval: Interval, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
    """``IQM [low, high]`` of ``interval`` times ``scale`` (``–`` without a finite value; one seed: no interval)."""
    if interval.n == 0 or not math.isfinite(interval.point):
        return "–"
    if interval.n == 1:
        return f"{scale * interval.point:.{digits}f}{unit} (1 seed)"
    return f"{scale * interval.point:.{digits}f} [{scale * interval.low:.{digits}f}, {scale * interval.high:.{digits}f}]{unit}"


def _pct(interval: Interval) -> str:
    """A share in [0, 1] as percent: ``IQM [low, high] %``."""
    return _interval_text(interval, 100.0, 1, " %")


def _dec(interval: Interval) -> str:
    return _interval_text(interval)


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def lm_seeds_section(data: dict[str, Any]) -> list[str]:
    """``benchmarks/lm_seeds.py``: the LM track's stages per task over seeds (issue 14)."""
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in data.get("runs", []):
        by_task[r["task"]].append(r)
    lines = [
        "## The LM track over seeds (issue 14)",
        "",
        f"`benchmarks/lm_seeds.py` ({data.get('jobs_done', 0)} of {data.get('jobs_in_grid', '?')} jobs; commit "
        f"{str(data.get('commit', '?'))[:7]}, {data.get('machine', {}).get('cpu', '?')}, {data.get('date', '?')}). "
        "Default settings of `conf/lm` at each task's default difficulty; greedy exact match and gold score on 300 "
        "held-out prompts; KL(π ‖ π_SFT) per response in nats (best-of-n: log n − (n − 1)/n); IQM over seeds [95 % "
        "bootstrap CI]. Sampled: one temperature-1 sample per prompt (for best-of-n, the SFT model's, the baseline it "
        "must beat). Goals (issue 14): no stage's gold below SFT's; DPO's KL ≤ 2; GRPO +20 points of exact match where "
        "SFT is below 80 %; reward model ≥ 85 % against gold on held-out decisive pairs; best-of-8 above sampling.",
        "",
    ]
    for task in data.get("tasks", {}):
        runs = by_task.get(task, [])
        seeds = sorted(int(r["seed"]) for r in runs)
        lines += [f"### {task} (seeds: {', '.join(map(str, seeds)) or 'none yet'})", ""]
        if not runs:
            continue
        lines += ["| stage | exact match | gold | exact match, sampled | gold, sampled | KL from SFT |",
                  "|---|---|---|---|---|---|"]
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in runs:
            for row in r.get("table", []):
                rows[row["stage"]].append(row)
        for stage in LM_STAGES:
            cell = rows.get(stage, [])
            if not cell:
                continue

            def col(key: str, cell: list[dict[str, Any]] = cell) -> Interval:
                return ci(_finite(row.get(key) for row in cell))

            lines.append(f"| {stage} | {_pct(col('exact_match'))} | {_dec(col('gold'))} | "
                         f"{_pct(col('exact_match_sampled'))} | {_dec(col('gold_sampled'))} | {_dec(col('kl_from_sft'))} |")
        rm = [r.get("reward_model", {}) for r in runs]
        acc = _finite(m.get("accuracy_by_task", {}).get(task, m.get("accuracy_vs_gold")) for m in rm)
        pairs = _finite(m.get("eval_pairs_by_task", {}).get(task, m.get("eval_pairs")) for m in rm)
        ties = _finite(m.get("training_ties") for m in rm)
        labels = [m.get("labels", {}) for m in rm]
        n_pairs = _finite(sum(v.values()) for v in labels if v)
        walls = _finite(r.get("wall_seconds") for r in runs)
        loads = _finite((r.get("load_average_at_end") or [math.nan])[0] for r in runs)
        lines += ["", f"Reward model against gold on held-out decisive pairs: {_pct(ci(acc))} "
                      f"({', '.join(f'{p:.0f}' for p in pairs)} pairs); training pairs with equal gold: "
                      f"{', '.join(f'{t:.0f}' for t in ties)} of {', '.join(f'{n:.0f}' for n in n_pairs)}.",
                  f"Wall time of a job: {', '.join(f'{w:.0f} s' for w in walls)} (load average at the end: "
                  f"{', '.join(f'{x:.1f}' for x in loads)}).",
                  ""]
    return lines


def render(label_efficiency: dict[str, Any] | None, overheads: Sequence[dict[str, Any]] = (),
           before: dict[str, Any] | None = None, screens: Sequence[tuple[str, dict[str, Any]]] = (),
           relabel: dict[str, Any] | None = None, offpolicy: dict[str, Any] | None = None,
           reliability: Sequence[dict[str, Any]] = (), suite: dict[str, Any] | None = None,
           label_scaling: dict[str, Any] | None = None, lm_seeds: dict[str, Any] | None = None,
           calibration: dict[str, Any] | None = None, backflip_loop: dict[str, Any] | None = None,
           suite_trials: Sequence[dict[str, Any]] = ()) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Generated by `.venv/bin/python benchmarks/make_results.py` from `benchmarks/results/label_efficiency.json` and "
        "`benchmarks/results/overhead*.json`; do not edit by hand. Methods, budgets and why: the docstrings of "
        "`benchmarks/label_efficiency.py` and `benchmarks/overhead.py`.",
        "",
    ]
    if label_efficiency:
        lines += label_efficiency_section(label_efficiency) + [""]
        if before:
            section = before_after_section(before, label_efficiency)
            lines += section + ([""] if section else [])
    if screens:
        lines += screens_section(screens) + [""]
    if overheads:
        lines += ["## Overhead: our loop against plain PPO at equal steps", ""]
        for oh in overheads:
            lines += overhead_section(oh) + [""]
    if relabel:
        lines += relabel_section(relabel) + [""]
    if offpolicy:
        lines += offpolicy_section(offpolicy)
    for data in reliability:
        lines += annotator_reliability_section(data) + [""]
    if calibration:
        lines += suite_calibration_section(calibration) + [""]
    if backflip_loop:
        lines += backflip_loop_section(backflip_loop) + [""]
    if suite:
        lines += suite_section(suite, suite_trials) + [""]
    if label_scaling:
        lines += label_scaling_section(label_scaling) + [""]
    if lm_seeds:
        lines += lm_seeds_section(lm_seeds)
    lines += ["## Headline figures", ""]
    heads = headline(index_runs(label_efficiency.get("runs", []))) if label_efficiency else []
    for oh in overheads:
        workers = (f", members {oh['trainer_workers']} at a time" if oh.get("trainer_workers", 1) > 1 else "") + (
            ", worker process" if oh.get("refit_worker") == "process" else "") + (
            f", stop at {oh['stop_accuracy']:.0%}" if oh.get("stop_accuracy") else "") + (
            ", relabelled take-over; the package's defaults" if oh.get("settings_from") == "the package's defaults" else "")
        heads.append(f"- Overhead ({oh.get('env_id')}, refits {oh.get('refit')}{workers}): the loop takes "
                     f"{oh.get('wall_time_ratio_median', math.nan):.2f}× the wall time of plain PPO at equal steps "
                     f"(median of {len(oh.get('repetitions', []))}; goal ≤ 1.15×).")
    lines += heads or ["- No results yet."]
    if label_efficiency and label_efficiency.get("jobs_remaining"):
        lines += ["", f"Partial: {label_efficiency.get('jobs_done')} of {label_efficiency.get('jobs_in_grid')} grid jobs "
                      "have run; the figures above cover only those."]
    return "\n".join(lines) + "\n"


def _load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-efficiency", default=str(HERE / "results" / "label_efficiency.json"))
    parser.add_argument("--overhead", nargs="*", default=None,
                        help="overhead results files (default: benchmarks/results/overhead*.json)")
    parser.add_argument("--before", default=str(HERE / "results" / "label_efficiency_before.json"),
                        help="our loop's runs before the last method change (compared with --label-efficiency)")
    parser.add_argument("--no-screens", dest="screens", action="store_false",
                        help="leave out the held-out-seed variants (benchmarks/results/screen_<variant>.json)")
    parser.add_argument("--suite", default=str(HERE / "results" / "suite.json"),
                        help="the suite benchmark's results (benchmarks/suite.py), with verifier success rates")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.overhead] if args.overhead is not None else sorted((HERE / "results").glob("overhead*.json"))
    le = _load(Path(args.label_efficiency))
    overheads = [d for d in (_load(p) for p in paths) if d is not None]
    if le is None and not overheads:
        parser.error(f"no results: {args.label_efficiency} does not exist and no overhead file was found "
                     f"({', '.join(map(str, paths)) or 'benchmarks/results/overhead*.json'}); run benchmarks/label_efficiency.py "
                     "or benchmarks/overhead.py first")
    screens = [(p.stem.removeprefix("screen_"), d) for p in sorted((HERE / "results").glob("screen_*.json"))
               if (d := _load(p)) is not None] if args.screens else []
    relabel = _load(HERE / "results" / "relabel_rate.json")
    offpolicy = _load(HERE / "results" / "offpolicy_dmc.json")
    reliability = [d for p in sorted((HERE / "results").glob("annotator_reliability*.json")) if (d := _load(p)) is not None]
    suite = _load(Path(args.suite))
    label_scaling = _load(HERE / "results" / "label_scaling.json")
    lm_seeds = _load(HERE / "results" / "lm_seeds.json")
    calibration = _load(Path(args.suite).with_name("suite_calibration.json"))
    trials = [d for pattern in ("suite_calibrated_set-*.json", "suite_steps*.json", "suite_heldout*.json")
              for p in sorted(Path(args.suite).parent.glob(pattern)) if (d := _load(p)) is not None]
    Path(args.out).write_text(render(le, overheads, _load(Path(args.before)), screens, relabel, offpolicy, reliability,
                                     suite, label_scaling, lm_seeds, calibration,
                                     _load(Path(args.suite).with_name("backflip_loop_diagnosis.json")), trials))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
