"""Calibrating the suite (issue 15): at what step budget does PPO on each suite task's hidden objective pass the
task's verifier?

Per suite task (every ``conf/env/*.yaml`` whose id is in ``rlhf_robotics.envs.TASK_IDS``) and seed, SB3 PPO on the
true (hidden) reward — built as ``benchmarks/suite.py``'s ``ppo`` arm and the loop's ``baseline=True`` arm build
it, with the task's env config and PPO settings (``suite.task_ppo``: ``conf/ppo/default.yaml`` unless the env
config selects its own) — learns for up to ``--max-steps`` env
steps (default 2,000,000, the issue's ceiling). Every ``--eval-every`` steps (default 100,000) the policy plays
``--eval-episodes`` (10) deterministic episodes with fresh seeds and the learning curve records the verifier's
success rate (``info["is_success"]`` on each episode's last step) and the true return.

A seed **passes** at a checkpoint when at least half of its evaluation episodes succeed (``PASS_RATE``). A task's
**calibrated budget** is the first checkpoint at which at least ``PASS_SEEDS`` (3) of its seeds pass — the issue's
"at least 3 of 5 seeds"; with fewer than 5 seeds run the table says how many passed of how many, never a budget.
The budget needs only each curve's beginning: once at least 5 seeds have all been evaluated up to a checkpoint where
3 of them pass, no later evaluation can move it, so a seed run to a smaller ``--max-steps`` (or still running)
counts as far as it got, and a task is "none found" only when every seed has finished without one.
``benchmark_steps`` in each env config is then set from it by hand (the section prints the value to use).

Each (task, seed) is one job in its own process, one thread; it keeps its final policy in ``<work>/<job>/`` (the
layout ``rlhf-robotics eval`` and ``gallery runs=[...]`` read). It writes ``<job>.partial.json`` after every
evaluation (``--list`` shows how far a running job is) and ``<job>.json`` only when it has finished; a rerun skips
finished jobs (also those finished in another ``max*`` folder to at least ``--max-steps``) and starts unfinished ones
afresh; a result made on an earlier version of its task (the env config now names a newer id) or with other PPO
settings than the task's now is moved to ``superseded/`` and the job runs again, its old curve kept as its own row. ``--collect`` gathers every
``max*_every<N>`` folder of the same evaluation interval (per job the longest curve) into
``benchmarks/results/suite_calibration.json`` with a plot of every curve (``suite_calibration.png``), and
``make_results.py`` turns that into a RESULTS.md section; a job stopped part-way shows its curve so far, marked
unfinished, and counts towards a budget only as far as it got. ``--extend`` continues a job from its run to a
smaller ceiling (its final checkpoint: policy, optimiser, step count, normalisation) instead of starting afresh, so
taking a task from 1 M to 2 M costs the second million only; the continuation draws fresh episodes and reseeds, so it
is another draw of the same experiment rather than the uninterrupted run's copy, and its result says what it
extended (``extended_from``).

Cost (measured, seed 0 of each task, ``job_wall_seconds`` in the results): a 2 M-step job took 950–1,050 s two
at a time (HalfCheetahOneLeg, HopperBackflip-v1; the test suite ran beside them for part of it) and 1,200–2,700 s
with two to three more processes on the machine; so the 24 jobs of seeds 1–4 take roughly 3 hours on 2 cores.
Seeds are run seed-major, so a partly finished calibration has every task at the same seeds::

    .venv/bin/python benchmarks/suite_calibration.py --jobs 2 --seeds 0          # one seed per task
    .venv/bin/python benchmarks/suite_calibration.py --jobs 2                    # seeds 0-4, resumable
    .venv/bin/python benchmarks/suite_calibration.py --jobs 2 --max-steps 1000000 --seeds 1 2 3 4   # half the cost;
                                                     # counts beside seed 0's 2 M curves (see "budget" above)
    .venv/bin/python benchmarks/suite_calibration.py --jobs 2 --max-steps 2000000 --extend   # 1 M runs on to 2 M
    .venv/bin/python benchmarks/suite_calibration.py --list
    .venv/bin/python benchmarks/suite_calibration.py --collect && .venv/bin/python benchmarks/make_results.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402
from _common import RESULTS, ROOT, WORK, provenance, restore, set_aside, write_result  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
MAX_STEPS = 2_000_000
EVAL_EVERY = 100_000
EVAL_EPISODES = 10
PASS_RATE = 0.5
"""A seed passes at a checkpoint when at least this share of its evaluation episodes succeed."""
PASS_SEEDS = 3
"""A task is calibrated at the first checkpoint where at least this many of its 5 seeds pass."""
PUBLISHED = RESULTS / "suite_calibration.json"


@dataclass(frozen=True)
class Job:
    task: str
    """Env config name under ``conf/env/`` (e.g. ``hopper_backflip``)."""
    seed: int

    @property
    def key(self) -> str:
        return f"ppo_{self.task}_seed{self.seed}"


def plan(seeds: Sequence[int] = SEEDS, tasks: Sequence[str] | None = None) -> list[Job]:
    """Seed-major: every task's seed 0, then every task's seed 1, ..."""
    names = list(suite.env_configs()) if tasks is None else list(tasks)
    return [Job(task, seed) for seed in seeds for task in names]


def current_env_id(task: str) -> str:
    """The env id the task's config names now (a task's version bump makes older results superseded)."""
    return str(suite.env_configs()[task].id)


def current_ppo(task: str) -> dict[str, Any]:
    """The task's PPO settings now, as a result records them (``ppo``)."""
    return asdict(suite.task_ppo(task))


def current_setting(run: dict[str, Any]) -> bool:
    """``run`` (a result or a curve) was made on the task's current version with its current PPO settings."""
    return run.get("env_id") == current_env_id(run["task"]) and suite.result_ppo(run) == current_ppo(run["task"])


def outdated(result: Path, task: str) -> bool:
    """The job result at ``result`` was made on an earlier version of ``task`` or with other PPO settings than the
    task's now: it is set aside and the job runs again."""
    return result.exists() and not current_setting({**json.loads(result.read_text()), "task": task})


def finished_elsewhere(job: Job, work: Path, max_steps: int) -> Path | None:
    """A current-version result of ``job`` in a sibling ``max*`` folder (same evaluation interval) that ran at least
    ``max_steps``: no need to run it again for a smaller ceiling."""
    interval = work.name.rpartition("_every")[2]
    for other in sorted(work.parent.glob(f"max*_every{interval}")):
        path = other / f"{job.key}.json"
        if other != work and path.exists() and not outdated(path, job.task):
            if json.loads(path.read_text())["max_steps"] >= max_steps:
                return path
    return None


def shorter_run(job: Job, work: Path, max_steps: int, eval_episodes: int) -> Path | None:
    """What ``--extend`` continues: the longest current-version result of ``job`` in a sibling ``max*`` folder (same
    evaluation interval and episodes, the task's PPO settings now) that stopped short of ``max_steps`` and kept its
    final policy; None when there is none."""
    interval = work.name.rpartition("_every")[2]
    found = []
    for other in sorted(work.parent.glob(f"max*_every{interval}")):
        path = other / f"{job.key}.json"
        if other == work or not path.exists() or outdated(path, job.task):
            continue
        run = json.loads(path.read_text())
        if run["max_steps"] < max_steps and run.get("eval_episodes") == eval_episodes and kept_policy_of(run):
            found.append((run["curve"][-1]["steps"], str(path)))
    return Path(max(found)[1]) if found else None


def kept_policy_of(run: dict[str, Any]) -> bool:
    """Whether ``run``'s folder still holds that run's final policy: a checkpoint at the run's last step count,
    trained on the run's env id and seed (a later run of another task version writes the same folder)."""
    run_dir = ROOT / run["run_dir"]
    latest, config = run_dir / "checkpoints" / "latest.json", run_dir / "config.json"
    if not (latest.exists() and config.exists()):
        return False
    saved = json.loads(config.read_text())
    state_dir = run_dir / "checkpoints" / json.loads(latest.read_text())["dir"]
    steps = json.loads((state_dir / "state.json").read_text()).get("num_timesteps")
    return bool(saved["env"]["id"] == run["env_id"] and saved["seed"] == run["seed"] and steps == run["curve"][-1]["steps"])


def job_state(job: Job, work: Path, max_steps: int | None = None) -> str:
    if max_steps is not None and not (work / f"{job.key}.json").exists():
        elsewhere = finished_elsewhere(job, work, max_steps)
        if elsewhere is not None:
            return f"done (in {elsewhere.parent.name})"
    if (work / f"{job.key}.json").exists():
        return "superseded (task or PPO settings changed since)" if outdated(work / f"{job.key}.json", job.task) else "done"
    if (work / f"{job.key}.failed.json").exists():
        return "failed"
    partial = work / f"{job.key}.partial.json"
    if partial.exists():
        curve = json.loads(partial.read_text())["curve"]
        return f"partial ({curve[-1]['steps']:,} steps)" if curve else "started"
    return "pending"


def run_job(job: Job, max_steps: int, eval_every: int, eval_episodes: int, work: Path,
            extend_from: Path | None = None) -> dict[str, Any]:
    """PPO on the task's true reward with an evaluation every ``eval_every`` steps; returns the result record.
    With ``extend_from`` (a shorter run's result, :func:`shorter_run`) PPO continues from that run's final
    checkpoint and its curve is continued."""
    from stable_baselines3.common.callbacks import BaseCallback

    from rlhf_robotics.robotics.config import ExperimentConfig
    from rlhf_robotics.robotics.evaluation import evaluate_policy
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.policy import obs_rms

    env = suite.env_configs()[job.task]
    config = ExperimentConfig(env=env, ppo=suite.task_ppo(job.task), total_steps=max_steps, seed=job.seed, run_dir=str(work / job.key),
                              baseline=False, video=False, device="cpu")
    prior: dict[str, Any] | None = None
    if extend_from is None:
        model, venv = suite.true_reward_ppo(config)
    else:
        prior = json.loads(extend_from.read_text())
        model, venv = continued_ppo(config, ROOT / prior["run_dir"])
    make_env = env_factory(env.id, env.kwargs, env.christiano)
    curve: list[dict[str, Any]] = list(prior["curve"]) if prior else []
    start = time.perf_counter() - (prior["job_wall_seconds"] if prior else 0.0)
    partial = work / f"{job.key}.partial.json"

    def evaluate() -> None:
        ev = evaluate_policy(model, make_env, eval_episodes, job.seed + 10_000 + len(curve), obs_rms(venv))
        curve.append({"steps": int(model.num_timesteps), "success_rate": ev.success.rate,
                      "successes": ev.success.successes, "episodes": ev.success.episodes,
                      "success_reason": ev.success.reason, "return_true": ev.returns.mean,
                      "return_true_std": ev.returns.std, "wall_seconds": time.perf_counter() - start})
        write_result(partial, {"key": job.key, "env_id": env.id, "ppo": asdict(config.ppo), "curve": curve})
        print(f"{job.key}: {model.num_timesteps:,} steps, success {ev.success.rate}, return {ev.returns.mean:.1f}",
              flush=True)

    class EveryNSteps(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = (model.num_timesteps // eval_every + 1) * eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += eval_every
                evaluate()
            return True

    model.learn(max(0, max_steps - model.num_timesteps), callback=EveryNSteps(), reset_num_timesteps=prior is None)
    if not curve or curve[-1]["steps"] < model.num_timesteps:
        evaluate()
    run_dir = work / job.key  # the final policy, for `rlhf-robotics eval` and `gallery runs=[...]`
    suite.keep_policy(run_dir, config, model, venv)
    venv.close()
    return {"key": job.key, "task": job.task, "env_id": env.id, "seed": job.seed, "max_steps": max_steps,
            "run_dir": suite.recorded_path(run_dir),
            "eval_every": eval_every, "eval_episodes": eval_episodes, "ppo": asdict(config.ppo), "n_envs": env.n_envs,
            "curve": curve, "job_wall_seconds": time.perf_counter() - start,
            **({"extended_from": {"result": suite.recorded_path(extend_from), "steps": prior["curve"][-1]["steps"]}}
               if prior and extend_from else {}),
            **provenance()}


def continued_ppo(config: Any, prior_dir: Path) -> tuple[Any, Any]:
    """A true-reward PPO (as :func:`suite.true_reward_ppo` builds it) restored from ``prior_dir``'s final checkpoint:
    policy, value function, optimiser state, step count and normalisation statistics. Its envs start fresh episodes
    under seeds offset by the steps already run, and its random generators are reseeded the same way, so the
    continuation is a different draw from an uninterrupted run of the same seed, not a copy of one."""
    from stable_baselines3 import PPO

    from rlhf_robotics.robotics.checkpoint import Checkpointer
    from rlhf_robotics.robotics.policy import make_vec_env, normalize

    saved = Checkpointer(prior_dir).latest()
    if saved is None:
        raise FileNotFoundError(f"{prior_dir} has no checkpoint to continue from")
    checkpoint, state = saved
    offset = config.seed + int(state["num_timesteps"])
    venv = normalize(make_vec_env(config, offset), config.ppo)
    Checkpointer.restore_normalisation(checkpoint, venv)
    model = PPO.load(checkpoint / "policy.zip", env=venv, device="cpu")
    model.set_random_seed(offset)
    return model, venv


def passing(point: dict[str, Any]) -> bool:
    return point["success_rate"] is not None and point["success_rate"] >= PASS_RATE


def row_name(run: dict[str, Any], current: dict[str, str] | None = None,
             ppo: dict[str, dict[str, Any]] | None = None) -> str:
    """A table row: the task's config name, with the env id's version when the run was on an earlier one (given
    ``current``, task → env id now), or marked when it ran with other PPO settings (given ``ppo``, task → its
    settings now)."""
    if current is not None and current.get(run["task"], run["env_id"]) != run["env_id"]:
        return f"{run['task']} ({str(run['env_id']).rsplit('/', 1)[-1]}, superseded)"
    if ppo is not None and run["task"] in ppo and suite.result_ppo(run) != ppo[run["task"]]:
        return f"{run['task']} (earlier PPO settings)"
    return str(run["task"])


def task_table(runs: Sequence[dict[str, Any]], current: dict[str, str] | None = None,
               ppo: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Per task (and per superseded version of it, given ``current`` task → env id, or earlier PPO settings, given
    ``ppo`` task → its settings now; see :func:`row_name`): the seeds run, per checkpoint
    how many of them pass, the first checkpoint at which each seed passes, the calibrated budget (first
    checkpoint with ``PASS_SEEDS`` passing seeds out of at least 5), and ``sustained_from``: the first checkpoint
    from which ``PASS_SEEDS`` pass at every later checkpoint every seed was evaluated at (``sustained_checkpoints``
    of them), or None."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(row_name(r, current, ppo) for r in runs):
        mine = sorted((r for r in runs if row_name(r, current, ppo) == name), key=lambda r: r["seed"])
        checkpoints = sorted({p["steps"] for r in mine for p in r["curve"]})
        by_seed = {r["seed"]: {p["steps"]: p for p in r["curve"]} for r in mine}
        passing_at = {s: sum(passing(c[s]) for c in by_seed.values() if s in c) for s in checkpoints}
        first = {seed: next((s for s in sorted(c) if passing(c[s])), None) for seed, c in by_seed.items()}
        open_ = [r["seed"] for r in mine if not r.get("finished", True)]
        # every seed has been evaluated at each checkpoint up to the shortest curve's end, so a budget found there
        # cannot move; beyond it, a seed that has not got that far could still pass earlier than the others
        known_to = min(r["curve"][-1]["steps"] for r in mine)
        first_three = next((s for s in checkpoints if passing_at[s] >= PASS_SEEDS), None)
        budget = first_three if len(mine) >= len(SEEDS) and first_three is not None and first_three <= known_to else None
        # the sturdier reading: from which checkpoint on do >= PASS_SEEDS pass at every checkpoint all seeds reached?
        # (the first checkpoint with 3 passing can be a lucky one: 10 episodes per evaluation are a noisy draw)
        shared = [s for s in checkpoints if all(s in c for c in by_seed.values())]
        last_short = max((s for s in shared if passing_at[s] < PASS_SEEDS), default=-1)
        held = [s for s in shared if s > last_short] if len(mine) >= len(SEEDS) else []
        final = [r["curve"][-1] for r in mine]
        out[name] = {"env_id": mine[0]["env_id"], "seeds": [r["seed"] for r in mine], "unfinished_seeds": open_,
                     "max_steps_by_seed": [r.get("max_steps") for r in mine],
                     "last_checkpoint_by_seed": [r["curve"][-1]["steps"] for r in mine], "passing_seeds_at": passing_at,
                     "first_pass_by_seed": first, "calibrated_budget": budget,
                     # 3 seeds passing at a checkpoint stay 3 of however many seeds run: the budget cannot be later
                     "budget_at_most": first_three,
                     "best_passing_seeds": max(passing_at.values(), default=0),
                     "sustained_from": held[0] if held else None,
                     "sustained_checkpoints": len(held),
                     "final_success_rate_by_seed": [p["success_rate"] for p in final],
                     "final_return_by_seed": [p["return_true"] for p in final]}
    return out


def plot(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """One panel per task: success rate (solid) against env steps, one line per seed; the pass line dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    current = {r["task"]: current_env_id(r["task"]) for r in runs}
    ppo = {r["task"]: current_ppo(r["task"]) for r in runs}
    tasks = list(dict.fromkeys(row_name(r, current, ppo) for r in runs))
    if not tasks:
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 2.8), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        for r in sorted((r for r in runs if row_name(r, current, ppo) == task), key=lambda r: r["seed"]):
            pts = [(p["steps"], p["success_rate"]) for p in r["curve"] if p["success_rate"] is not None]
            ax.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], marker=".", label=f"seed {r['seed']}")
        ax.axhline(PASS_RATE, color="grey", ls="--", lw=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("env steps (M)")
        ax.set_ylim(-0.05, 1.05)
    axes[0][0].set_ylabel("verifier success rate")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def unfinished(work: Path) -> list[dict[str, Any]]:
    """The curves of jobs still running or stopped before the end (``<key>.partial.json`` without a result), marked
    ``finished: False``: they show how far a task got, and never count towards a budget. A curve of an earlier
    version of its task (or one that does not say which), or with other PPO settings, is left out."""
    jobs = {j.key: j for j in plan(range(100))}
    out = []
    for path in sorted(work.glob("*.partial.json")):
        job = jobs.get(path.name.removesuffix(".partial.json"))
        record = json.loads(path.read_text())
        curve = record["curve"]
        if (job is not None and curve and not (work / f"{job.key}.json").exists()
                and current_setting({**record, "task": job.task})):
            out.append({"key": job.key, "task": job.task, "env_id": record["env_id"], "seed": job.seed,
                        "ppo": suite.result_ppo(record), "curve": curve, "finished": False})
    return out


def gather(work: Path) -> list[dict[str, Any]]:
    """Every run of one work folder: finished, set aside as superseded, and unfinished."""
    runs = [json.loads(p.read_text()) for p in sorted(work.glob("*.json"))
            if not p.name.endswith((".partial.json", ".failed.json"))]
    runs += [json.loads(p.read_text()) for p in sorted((work / "superseded").glob("*.json"))]
    return runs + unfinished(work)


def collect(work: Path | Sequence[Path], out: Path) -> dict[str, Any]:
    """Gather one work folder, or several (e.g. every ``max*`` ceiling of one evaluation interval): per job and task
    version and PPO settings the longest curve, a finished run before an unfinished one of the same length."""
    works = [work] if isinstance(work, Path) else list(work)
    best: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for folder in works:
        for run in gather(folder):
            key = (run["task"], run["seed"], run["env_id"], json.dumps(suite.result_ppo(run), sort_keys=True))
            rank = (run["curve"][-1]["steps"] if run["curve"] else 0, run.get("finished", True))
            if key not in best or rank > (best[key]["curve"][-1]["steps"] if best[key]["curve"] else 0,
                                          best[key].get("finished", True)):
                best[key] = run
    runs = sorted(best.values(), key=lambda r: (r["task"], r["seed"]))
    current = {r["task"]: current_env_id(r["task"]) for r in runs}
    ppo = {r["task"]: current_ppo(r["task"]) for r in runs}
    data = {"benchmark": "suite_calibration", "work": [str(w) for w in works], "pass_rate": PASS_RATE, "pass_seeds": PASS_SEEDS,
            "seeds_for_a_budget": len(SEEDS), "runs": runs, "tasks": task_table(runs, current, ppo), **provenance()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, default=float) + "\n")
    plot(runs, out.with_suffix(".png"))
    return data


def restore_published(parent: Path, published: Path = PUBLISHED, eval_every: int = EVAL_EVERY) -> int:
    """Put the published runs of this evaluation interval back into their ``max<N>_every<M>`` folders under
    ``parent`` (a run of an earlier task version into ``superseded/``), so a calibration continued on a fresh clone
    skips them and ``--collect`` keeps them; returns how many were written. Never overwrites. An unfinished curve
    (a job stopped part-way, which records no ceiling or interval) goes back as ``<key>.partial.json`` into the
    ``MAX_STEPS`` folder, unless that folder has the job already: ``--collect`` shows it as it was published, and
    running the job starts it afresh as on the machine that stopped it. (Until Dec 3 it was not restored, so a
    fresh clone's first collect dropped PusherGentle's seed 1, stopped at 1.7 M, and with it the task's budget.)"""
    if not published.exists():
        return 0
    configs, n = suite.env_configs(), 0
    for run in json.loads(published.read_text()).get("runs", []):
        if not run.get("finished", True) and run["task"] in configs and run.get("curve"):
            folder = parent / f"max{MAX_STEPS}_every{eval_every}"
            partial = folder / f"{run['key']}.partial.json"
            if not partial.exists() and not (folder / f"{run['key']}.json").exists():
                folder.mkdir(parents=True, exist_ok=True)
                write_result(partial, {"key": run["key"], "env_id": run["env_id"], "ppo": suite.result_ppo(run),
                                       "curve": run["curve"]})
                n += 1
            continue
        if run.get("eval_every") != eval_every or run["task"] not in configs:
            continue
        folder = parent / f"max{run['max_steps']}_every{eval_every}"
        folder.mkdir(parents=True, exist_ok=True)
        n += restore(run, folder / f"{run['key']}.json", aside=not current_setting(run))
    return n


def launch(job: Job, args: argparse.Namespace, work: Path) -> bool:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-job", job.key, "--work", str(work),
           "--max-steps", str(args.max_steps), "--eval-every", str(args.eval_every),
           "--eval-episodes", str(args.eval_episodes)]
    if args.extend and (prior := shorter_run(job, work, args.max_steps, args.eval_episodes)) is not None:
        cmd += ["--extend-from", str(prior)]
    with open(work / f"{job.key}.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    return proc.returncode == 0 and (work / f"{job.key}.json").exists()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-steps", type=int, default=MAX_STEPS)
    p.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    p.add_argument("--eval-episodes", type=int, default=EVAL_EPISODES)
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--tasks", nargs="+", default=None, help="env config names (default: every suite task)")
    p.add_argument("--jobs", type=int, default=2, help="jobs at a time (one core each)")
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--out", type=Path, default=RESULTS / "suite_calibration.json")
    p.add_argument("--list", action="store_true", help="print every job and its state")
    p.add_argument("--collect", action="store_true", help="only gather finished results")
    p.add_argument("--extend", action="store_true",
                   help="continue each job from its run to a smaller --max-steps where one finished (same evaluation "
                        "interval, episodes and PPO settings) instead of starting afresh")
    p.add_argument("--run-job", default=None, help=argparse.SUPPRESS)
    p.add_argument("--extend-from", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("max_steps", "eval_every", "eval_episodes", "jobs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    known = list(suite.env_configs())
    unknown = [t for t in args.tasks or [] if t not in known]
    if unknown:
        p.error(f"--tasks {' '.join(unknown)}: not a suite task; choose from {', '.join(known)}")
    work = args.work or WORK / "suite_calibration" / f"max{args.max_steps}_every{args.eval_every}"
    work.mkdir(parents=True, exist_ok=True)
    if not args.run_job and args.work is None and (restored := restore_published(work.parent, eval_every=args.eval_every)):
        print(f"{restored} runs taken from {PUBLISHED} (this machine's work folders did not have them)")
    if args.run_job:
        job = next((j for j in plan(range(100)) if j.key == args.run_job), None)
        if job is None:
            p.error(f"no job {args.run_job!r}; see --list")
        (work / f"{job.key}.failed.json").unlink(missing_ok=True)
        if outdated(work / f"{job.key}.json", job.task):
            set_aside(work / f"{job.key}.json")
        try:
            result = run_job(job, args.max_steps, args.eval_every, args.eval_episodes, work, args.extend_from)
        except Exception:
            write_result(work / f"{job.key}.failed.json", {"key": job.key, "traceback": traceback.format_exc()})
            raise
        write_result(work / f"{job.key}.json", result)
        (work / f"{job.key}.partial.json").unlink(missing_ok=True)
        return 0
    jobs = plan(args.seeds, args.tasks)
    if args.list:
        for job in jobs:
            state = job_state(job, work, args.max_steps)
            prior = shorter_run(job, work, args.max_steps, args.eval_episodes) if args.extend and state == "pending" else None
            print(f"{state:24} {job.key}" + (f" (extends {prior.parent.name})" if prior else ""))
        return 0
    if not args.collect:
        todo = [j for j in jobs if not job_state(j, work, args.max_steps).startswith("done")]
        print(f"{len(todo)} of {len(jobs)} jobs to run, {args.jobs} at a time, up to {args.max_steps:,} steps each",
              flush=True)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for i, (job, ok) in enumerate(zip(todo, pool.map(lambda j: launch(j, args, work), todo)), 1):
                print(f"[{i}/{len(todo)}, {time.monotonic() - start:.0f} s] {'done  ' if ok else 'FAILED'} {job.key}"
                      + ("" if ok else f" (log: {work / job.key}.log)"), flush=True)
    # every ceiling of this evaluation interval, unless a work folder was named
    data = collect(work if args.work else sorted(work.parent.glob(f"max*_every{args.eval_every}")), args.out)
    still = sum(not r.get("finished", True) for r in data["runs"])
    print(f"{len(data['runs']) - still} finished runs and {still} unfinished -> {args.out}")
    for task, row in data["tasks"].items():
        print(f"  {task}: seeds {row['seeds']}, most passing at one checkpoint {row['best_passing_seeds']}, "
              f"budget {row['calibrated_budget']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
