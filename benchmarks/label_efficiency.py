"""Label efficiency and speed: our preference loop against PPO on the true reward and against imitation 1.0.1.

The grid (issue 7), every cell at the same env-step budget (``--steps``) and the same PPO settings
(``rlhf_robotics.robotics.config.PPOConfig``: 4 ``DummyVecEnv`` envs, n_steps 512, batch 256, 10 epochs,
lr 3e-4, ``VecNormalize`` of observations and reward):

- tasks HalfCheetah, Hopper (fixed horizon: ``terminate_when_unhealthy=False``, as ``conf/env/hopper.yaml``)
  and Swimmer; label budgets 200 and 700 with the perfect oracle and 700 with the mistake teacher (ε = 0.1);
  seeds 0–4;
- arms on the v5 tasks (the main table): ``loop`` (our loop, defaults of ``ExperimentConfig``: 3-member
  ensemble, uniform selection, synchronous refits of ≤ 8 epochs, input statistics per round, 10 label
  rounds) and ``ppo`` (plain SB3 PPO on the true reward; it has no labels, so one run per task and seed serves
  all three label settings);
- arms on the v4 tasks (the comparison with imitation 1.0.1, which pins gymnasium 0.29 and so runs v4):
  ``imitation`` (its ``PreferenceComparisons`` with its synthetic gatherer, run by ``imitation_runner.py`` in
  its own virtual environment), and ``loop`` and ``ppo`` again on the same v4 task. Gymnasium 1.4 with
  MuJoCo 4 still registers the v4 tasks, so our loop runs them in our own environment; imitation's environment
  uses MuJoCo 2.3.7 because Swimmer-v4's XML (``<option collision=...>``) fails to load under MuJoCo >= 3.

In our environment (gymnasium 1.x, one MuJoCo) the v4 and v5 ids of these three tasks are the same computation:
stepped side by side from the same seeds with the same actions they give bit-identical observations, rewards and
episode ends (``v4_v5_identity``; the first 13 v4/v5 pairs run both ways gave identical returns). So a v4 ``loop``
or ``ppo`` job waits for its v5 twin, re-checks the identity, and records the twin's result with
``same_computation_as`` and the check; where the check fails it runs for real. imitation's v4 jobs always run.

Each (arm, task, label budget, teacher, seed) is one job: a subprocess that writes
``benchmarks/.work/label_efficiency/steps<N>/<job>.json`` (git-ignored) only when it has finished. A rerun
skips every job with a result file and starts unfinished ones afresh (a killed job leaves no result, its
partial run directory is removed), so the grid can be completed over several sittings. A job that raises
writes ``<job>.failed.json`` and is retried on the next run. After the jobs, every finished result under the
work folder is gathered into ``benchmarks/results/label_efficiency.json``, which ``make_results.py`` turns
into ``benchmarks/RESULTS.md``.

Env-step budget: 204,800 steps per run (10 label rounds × 10 PPO rollouts of 4 envs × 512 steps, so every arm's
learning ends exactly on the budget; about the loop's default of 200k). Why, from single runs measured here first
(seed 0, 700 oracle labels, CPU seconds of the whole job including start-up and the 10-episode evaluation, the
machine shared with other work):

| steps | task | ppo | loop | imitation |
|---|---|---|---|---|
| 40,960 | HalfCheetah-v4 | 12 | 27 | 51 |
| 102,400 | HalfCheetah-v4/v5 | 21 | 38 | 56 |
| 102,400 | Hopper-v5 (imitation: v4) | 27 | 56 | 68 |
| 204,800 | HalfCheetah-v4/v5 | 39 | 61 | 78 |
| 204,800 | Hopper-v5 (imitation: v4) | 47 | 75 | 84 |
| 204,800 | Swimmer-v5 (imitation: v4) | 42 | 64 | 77 |

A (task, seed) has 11 jobs (v5: 1 ppo + 3 loop; v4: 1 ppo + 3 loop + 3 imitation): at 204,800 steps ≈ 680 CPU s
for HalfCheetah, 800 for Hopper and 700 for Swimmer when all run, so 5 seeds ≈ 10,900 CPU s: about 1.5 hours on
2 cores running 2 jobs at a time, 1.7–2 hours with imperfect packing and a busier machine — the issue's "about
two hours". With the v4 loop and PPO jobs reusing their v5 twins, 7 of the 11 run: ≈ 7,300 CPU s, about an hour. The reward model's cost hardly grows with steps, so 102,400 steps would still take ≈ 1 hour, and
409,600 about 2.5 hours. At 204,800 steps PPO is not converged on HalfCheetah or Hopper (HalfCheetah ≈ 3,400 vs
≈ 5,400 at 450k in PEERS.md): the benchmark compares the arms at equal steps and labels, not converged policies.

    .venv/bin/python benchmarks/label_efficiency.py --jobs 2                     # the whole grid, resumable
    .venv/bin/python benchmarks/label_efficiency.py --jobs 2 --only env=HalfCheetah labels=700,none teacher=oracle,none seed=0,1
    .venv/bin/python benchmarks/label_efficiency.py --list                       # every job and its state
    .venv/bin/python benchmarks/label_efficiency.py --jobs 2 --only arm=loop version=v5 \
        --set reward_model.input_statistics=initial --work benchmarks/.work/label_efficiency/steps204800_input_statistics_initial
                                                                  # the loop with a setting changed, in its own folder
    .venv/bin/python benchmarks/label_efficiency.py --collect                    # only gather finished results
    .venv/bin/python benchmarks/make_results.py                                  # regenerate RESULTS.md
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, WORK, provenance, synchronous_refit  # noqa: E402

DEFAULT_STEPS = 204_800
ENVS: dict[str, dict[str, Any]] = {
    "HalfCheetah": {},
    "Hopper": {"terminate_when_unhealthy": False},
    "Swimmer": {},
}
LABEL_SETTINGS: tuple[tuple[int, str], ...] = ((200, "oracle"), (700, "oracle"), (700, "mistake"))
SEEDS = (0, 1, 2, 3, 4)
IMITATION_VENV = WORK / "imitation-venv"
IMITATION_RUNNER = Path(__file__).resolve().parent / "imitation_runner.py"
IMITATION_PINS: tuple[tuple[str, ...], ...] = (
    ("torch==2.13.0",),  # the CPU wheel on this machine's disk, installed first so nothing pulls a CUDA build
    ("imitation[mujoco]==1.0.1", "mujoco==2.3.7", "numpy<2"),
)
"""imitation 1.0.1 pins gymnasium ~0.29 and stable-baselines3 ~2.2.1; gymnasium 0.29's v4 tasks need
numpy < 2, and Swimmer-v4 needs MuJoCo < 3 (its XML's ``collision`` option was removed in MuJoCo 3.0)."""


@dataclass(frozen=True)
class Job:
    """One cell of the grid with one seed."""

    arm: str
    """``loop``, ``ppo`` or ``imitation``."""
    env: str
    """Task family: HalfCheetah, Hopper or Swimmer."""
    version: str
    """``v5`` or ``v4``."""
    labels: int | None
    """Label budget (``None`` for ``ppo``)."""
    teacher: str | None
    """``oracle`` or ``mistake`` (``None`` for ``ppo``)."""
    seed: int

    @property
    def env_id(self) -> str:
        return f"{self.env}-{self.version}"

    @property
    def key(self) -> str:
        return f"{self.arm}_{self.env_id}_{self.labels if self.labels is not None else 'na'}_{self.teacher or 'na'}_seed{self.seed}"

    def field(self, name: str) -> str:
        """The job's value of a filter field, as text (``none`` for a missing budget or teacher)."""
        value = getattr(self, name)
        return "none" if value is None else str(value)


FILTER_FIELDS = ("arm", "env", "version", "labels", "teacher", "seed")
J = TypeVar("J")
"""A job dataclass of any grid (this one's, the suite's)."""


def plan(seeds: Sequence[int] = SEEDS, envs: Iterable[str] = ENVS) -> list[Job]:
    """Every job of the grid, seed-major, so that a partly finished grid has whole seeds."""
    jobs: list[Job] = []
    for seed in seeds:
        for env in envs:
            jobs.append(Job("ppo", env, "v5", None, None, seed))
            jobs += [Job("loop", env, "v5", n, t, seed) for n, t in LABEL_SETTINGS]
            jobs.append(Job("ppo", env, "v4", None, None, seed))
            for n, t in LABEL_SETTINGS:
                jobs += [Job("loop", env, "v4", n, t, seed), Job("imitation", env, "v4", n, t, seed)]
    return jobs


def parse_only(items: Sequence[str], fields: Sequence[str] = FILTER_FIELDS,
               example: str = "env=Hopper seed=0,1") -> dict[str, set[str]]:
    """``["env=Hopper", "seed=0,1"]`` → ``{"env": {"Hopper"}, "seed": {"0", "1"}}``; names the bad item."""
    out: dict[str, set[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--only item {item!r} is not FIELD=VALUE[,VALUE...]; e.g. --only {example}")
        if name not in fields:
            raise ValueError(f"--only field {name!r} is unknown; use one of {', '.join(fields)}")
        out.setdefault(name, set()).update(v.strip() for v in values.split(","))
    return out


def select_jobs(jobs: Sequence[J], only: dict[str, set[str]]) -> list[J]:
    """The jobs whose every filtered field has one of the allowed values (``none`` matches ppo's labels)."""
    for name, allowed in only.items():
        known = {_field(j, name) for j in jobs}
        unknown = allowed - known
        if unknown:
            raise ValueError(f"--only {name}={','.join(sorted(unknown))} matches no job; values in the grid: "
                             f"{', '.join(sorted(known))}")
    return [j for j in jobs if all(_field(j, name) in allowed for name, allowed in only.items())]


def _field(job: Any, name: str) -> str:
    """A job's value of a filter field as text (``none`` for a missing one); any job dataclass."""
    value = getattr(job, name)
    return "none" if value is None else str(value)


def work_dir(steps: int, root: Path = WORK / "label_efficiency") -> Path:
    return root / f"steps{steps}"


def result_path(job: Job, work: Path) -> Path:
    return work / f"{job.key}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_state(job: Job, work: Path) -> str:
    """``done`` (result file), ``running`` (a live process holds it), ``failed`` (last try raised) or ``pending``."""
    if result_path(job, work).exists():
        return "done"
    marker = work / f"{job.key}.running"
    if marker.exists():
        try:
            if _alive(int(marker.read_text().strip())):
                return "running"
        except ValueError:
            pass
    if (work / f"{job.key}.failed.json").exists():
        return "failed"
    return "pending"


# ----------------------------------------------------------------------------------------------------------
# Running one job (in its own process: ``--run-job KEY``)
# ----------------------------------------------------------------------------------------------------------
def find_job(key: str) -> Job:
    for job in plan(seeds=range(100)):
        if job.key == key:
            return job
    raise ValueError(f"no job named {key!r}; see --list for the names")


OVERRIDES: list[str] = []
"""``--set KEY=VALUE`` items for the loop's ``ExperimentConfig`` (e.g. ``reward_model.input_statistics=initial``)."""


def apply_overrides(config: Any, items: Sequence[str]) -> Any:
    """``config`` with dotted ``KEY=VALUE`` overrides (VALUE read as JSON, else as text), checked as the CLI
    checks a composed config: an unknown key or a wrong value raises ``ConfigError`` naming it."""
    from rlhf_robotics.robotics.config import ExperimentConfig
    from rlhf_robotics.typed_config import ConfigError, from_mapping

    data = asdict(config)
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set item {item!r} is not KEY=VALUE; e.g. --set reward_model.input_statistics=initial")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        *path, last = key.split(".")
        node = data
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"--set {key}: {part!r} is not a group of the experiment config")
            node = node[part]
        node[last] = value
    return from_mapping(ExperimentConfig, data)


def _experiment_config(job: Job, steps: int, eval_episodes: int, run_dir: Path) -> Any:
    from rlhf_robotics.robotics.config import EnvConfig, ExperimentConfig, LabelsConfig, TeacherSettings

    return apply_overrides(synchronous_refit(ExperimentConfig(
        env=EnvConfig(id=job.env_id, kwargs=dict(ENVS[job.env])),
        labels=LabelsConfig(total=job.labels or 1), teacher=TeacherSettings(preset=job.teacher or "oracle"),
        total_steps=steps, seed=job.seed, run_dir=str(run_dir), baseline=False, eval_episodes=eval_episodes,
        video=False, device="cpu",
    )), OVERRIDES)  # the published grid's refit; --set overrides on top


def run_loop(job: Job, steps: int, eval_episodes: int, run_dir: Path) -> dict[str, Any]:
    return loop_result(_experiment_config(job, steps, eval_episodes, run_dir))


def loop_result(config: Any) -> dict[str, Any]:
    """Run our loop with ``config`` (an ``ExperimentConfig``); the figures a benchmark keeps of it."""
    from rlhf_robotics.robotics.loop import run_experiment

    run_dir = Path(config.run_dir)
    summary = run_experiment(config, progress=False).to_json()
    state = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    steps_done = json.loads((run_dir / "checkpoints" / state["dir"] / "state.json").read_text())["num_timesteps"]
    w = summary["wall_seconds"]
    return {
        "return_true": summary["policy_return_true"], "random_return_true": summary["random_return_true"],
        "labels_used": summary["labels_used"], "policy_env_steps": int(steps_done),
        "score_vs_reference": summary.get("score_vs_reference"), "reference_return": summary.get("reference_return"),
        "wall_seconds": w["loop_total"],
        "wall_seconds_by_phase": {k: w[k] for k in ("policy_learn", "reward_inference", "reward_training",
                                                    "reward_training_background", "selection", "labelling", "checkpoint") if k in w},
        "wall_seconds_evaluation": w.get("evaluation"),
        "reward_model_accuracy_vs_oracle": summary["reward_model_accuracy_vs_oracle"],
        "reward_model": {"ensemble_size": config.reward_model.ensemble_size, "async_training": config.reward_model.async_training,
                         "refit_epochs": config.reward_model.refit_epochs, "selection": config.selection.name,
                         "input_statistics": config.reward_model.input_statistics,
                         "hidden_sizes": list(config.reward_model.mlp.hidden_sizes)},
    }


def run_ppo(job: Job, steps: int, eval_episodes: int, run_dir: Path) -> dict[str, Any]:
    return ppo_result(_experiment_config(job, steps, eval_episodes, run_dir))


def ppo_result(config: Any) -> dict[str, Any]:
    """Plain PPO on the true reward for ``config.total_steps``, built exactly as the loop's own ``baseline=True`` arm
    builds it; the figures a benchmark keeps of it."""
    import torch

    from rlhf_robotics.robotics.evaluation import evaluate_true_return
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.policy import make_ppo, make_vec_env, normalize, obs_rms

    torch.set_num_threads(1)
    venv = normalize(make_vec_env(config, config.seed), config.ppo)
    model = make_ppo(config.ppo, venv, config.seed, "cpu")
    start = time.perf_counter()
    model.learn(config.total_steps)
    wall = time.perf_counter() - start
    ev = time.perf_counter()
    make_env = env_factory(config.env.id, config.env.kwargs, config.env.christiano)
    ret = evaluate_true_return(model, make_env, config.eval_episodes, config.seed + 10_000, obs_rms(venv))
    venv.close()
    return {"return_true": asdict(ret), "labels_used": 0, "policy_env_steps": int(model.num_timesteps),
            "wall_seconds": wall, "wall_seconds_evaluation": time.perf_counter() - ev}


def ensure_imitation_venv(venv: Path = IMITATION_VENV) -> Path:
    """Create imitation's virtual environment if it is missing; returns its python."""
    python = venv / "bin" / "python"
    marker = venv / ".installed.json"
    if marker.exists() and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"installing imitation 1.0.1 into {venv} (a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # from a venv's python: a venv of its base python
    for pins in IMITATION_PINS:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    marker.write_text(json.dumps({"pins": IMITATION_PINS}))
    return python


def run_imitation(job: Job, steps: int, eval_episodes: int, run_dir: Path) -> dict[str, Any]:
    from rlhf_robotics.robotics.config import EnvConfig, LabelsConfig, PPOConfig
    from rlhf_robotics.robotics.physics import step_seconds
    from rlhf_robotics.robotics.schedule import segment_length

    env = EnvConfig(id=job.env_id, kwargs=dict(ENVS[job.env]))
    fragment = segment_length(step_seconds(env.id, env.kwargs), env.segment_seconds, env.segment_steps,
                              env.min_segment_steps, env.max_segment_steps)
    labels = LabelsConfig()
    out = run_dir / "imitation_result.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(ensure_imitation_venv()), str(IMITATION_RUNNER), "--env", job.env_id, "--env-kwargs", json.dumps(env.kwargs),
           "--steps", str(steps), "--labels", str(job.labels), "--teacher", str(job.teacher), "--seed", str(job.seed),
           "--fragment-length", str(fragment), "--rounds", str(labels.rounds), "--initial-fraction", str(labels.initial_fraction),
           "--n-envs", str(env.n_envs), "--ppo", json.dumps(asdict(PPOConfig())), "--eval-episodes", str(eval_episodes),
           "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=run_dir, stdout=sys.stdout, stderr=sys.stderr)
    result: dict[str, Any] = json.loads(out.read_text())
    result["fragment_length"] = fragment
    return result


RUNNERS = {"loop": run_loop, "ppo": run_ppo, "imitation": run_imitation}


def v5_twin(job: Job) -> Job | None:
    """The v5 job that runs the same computation as a v4 ``loop`` or ``ppo`` job in our environment."""
    if job.version != "v4" or job.arm not in ("loop", "ppo"):
        return None
    return Job(job.arm, job.env, "v5", job.labels, job.teacher, job.seed)


@functools.cache
def v4_v5_identity(env: str, episodes: int = 3, steps: int = 1000) -> dict[str, Any]:
    """Step ``<env>-v4`` and ``<env>-v5`` (the grid's kwargs) side by side on the same seeds and random actions.

    In gymnasium 1.x with one MuJoCo, HalfCheetah, Hopper and Swimmer v4 and v5 differ only in options whose
    defaults agree, so the same seed gives bit-identical observations, rewards and episode ends; then a v4
    loop or PPO job is the same computation as its v5 twin and the grid reuses the twin's result. Checked once
    per task and process.
    """
    import gymnasium as gym
    import numpy as np

    a, b = gym.make(f"{env}-v4", **ENVS[env]), gym.make(f"{env}-v5", **ENVS[env])
    rng = np.random.default_rng(0)
    identical, compared = True, 0
    for episode in range(episodes):
        oa, _ = a.reset(seed=episode)
        ob, _ = b.reset(seed=episode)
        identical &= bool(np.array_equal(oa, ob))
        for _ in range(steps):
            action = rng.uniform(-1, 1, a.action_space.shape).astype(np.float32)
            sa, sb = a.step(action), b.step(action)
            compared += 1
            identical &= bool(np.array_equal(sa[0], sb[0]) and sa[1:4] == sb[1:4])
            if sa[2] or sa[3]:
                break
    a.close()
    b.close()
    return {"identical": identical, "steps_compared": compared, "episodes": episodes,
            "same_episode_limit": a.spec.max_episode_steps == b.spec.max_episode_steps}  # type: ignore[union-attr]


def derive_from_twin(job: Job, work: Path, command: str | None = None) -> Path | None:
    """Write ``job``'s result from its v5 twin's when the two tasks are verified identical; None otherwise."""
    twin = v5_twin(job)
    if twin is None or not result_path(twin, work).exists():
        return None
    check = v4_v5_identity(job.env)
    if not (check["identical"] and check["same_episode_limit"]):
        return None
    result = json.loads(result_path(twin, work).read_text())
    result.update({"job": asdict(job), "key": job.key, "env_id": job.env_id, "command": command or result.get("command"),
                   "same_computation_as": twin.key, "v4_v5_identity": dict(check)})
    tmp = result_path(job, work).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    tmp.replace(result_path(job, work))
    return result_path(job, work)


def run_job(job: Job, steps: int, eval_episodes: int, work: Path, command: str | None = None) -> Path:
    """Run one job in this process and write its result file; a failure writes ``<job>.failed.json``."""
    work.mkdir(parents=True, exist_ok=True)
    marker = work / f"{job.key}.running"
    marker.write_text(str(os.getpid()))  # another driver on the same folder leaves this job alone
    try:
        return _run_job(job, steps, eval_episodes, work, command)
    finally:
        marker.unlink(missing_ok=True)


def _run_job(job: Job, steps: int, eval_episodes: int, work: Path, command: str | None) -> Path:
    run_dir = work / job.key
    shutil.rmtree(run_dir, ignore_errors=True)  # a partial run of a killed job starts afresh
    (work / f"{job.key}.failed.json").unlink(missing_ok=True)
    cpu0 = time.process_time()
    child0 = os.times()
    start = time.perf_counter()
    try:
        measured = RUNNERS[job.arm](job, steps, eval_episodes, run_dir)
    except Exception as exc:
        (work / f"{job.key}.failed.json").write_text(json.dumps(
            {"job": asdict(job), "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}, indent=2))
        raise
    child1 = os.times()
    result = {
        "job": asdict(job), "key": job.key, "command": command, "env_id": job.env_id, "env_kwargs": ENVS[job.env], "steps": steps,
        "eval_episodes": eval_episodes, "jobs_at_a_time": int(os.environ.get("LABEL_EFFICIENCY_JOBS", "1")),
        "overrides": list(OVERRIDES), **measured,
        "job_wall_seconds": time.perf_counter() - start,
        "job_cpu_seconds": (time.process_time() - cpu0) + (child1.children_user - child0.children_user)
        + (child1.children_system - child0.children_system),
        **provenance(),
    }
    tmp = result_path(job, work).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    tmp.replace(result_path(job, work))  # the result appears whole or not at all
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # keep the store, metrics and summary, not the policies
    return result_path(job, work)


# ----------------------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------------------
def launch(job: Job, steps: int, eval_episodes: int, work: Path, log: Any = print) -> bool:
    """Run ``job`` in a subprocess with one thread per library; True when it wrote its result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(work / f"{job.key}.log", "w") as out:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--run-job", job.key, "--steps", str(steps),
                               "--eval-episodes", str(eval_episodes), "--work", str(work),
                               *(f"--set={item}" for item in OVERRIDES)],
                              stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    ok = proc.returncode == 0 and result_path(job, work).exists()
    log(f"{'done  ' if ok else 'FAILED'} {job.key} in {time.perf_counter() - start:.0f} s"
        + ("" if ok else f" (exit {proc.returncode}; see {work / (job.key + '.log')})"))
    return ok


def run_all(jobs: Sequence[Job], steps: int, eval_episodes: int, work: Path, n_jobs: int) -> tuple[int, int]:
    """Run every job without a result, ``n_jobs`` at a time; returns (finished now, failed now)."""
    states = {j.key: job_state(j, work) for j in jobs}
    todo = [j for j in jobs if states[j.key] in ("pending", "failed")]
    running = sum(s == "running" for s in states.values())
    print(f"{sum(s == 'done' for s in states.values())} of {len(jobs)} jobs already done"
          + (f", {running} running in another process (left alone)" if running else "")
          + f"; running {len(todo)}, {n_jobs} at a time", flush=True)
    if any(j.arm == "imitation" for j in todo):
        ensure_imitation_venv()
    # v4 loop and PPO jobs whose v5 twin is in this run or done wait for it and reuse its result (v4_v5_identity)
    keys = {j.key for j in jobs}
    later = [j for j in todo if (t := v5_twin(j)) is not None and (t.key in keys or result_path(t, work).exists())]
    now = [j for j in todo if j not in later]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        oks = list(pool.map(lambda j: launch(j, steps, eval_episodes, work, log=lambda m: print(m, flush=True)), now))
    command = os.environ.get("LABEL_EFFICIENCY_COMMAND")
    for job in later:
        if derive_from_twin(job, work, command) is not None:
            print(f"done   {job.key} = {v5_twin(job).key} (v4 and v5 verified identical)", flush=True)  # type: ignore[union-attr]
            oks.append(True)
        else:
            oks.append(launch(job, steps, eval_episodes, work, log=lambda m: print(m, flush=True)))
    return sum(oks), len(oks) - sum(oks)


def collect(work: Path, out: Path, command: str | None = None) -> dict[str, Any]:
    """Gather every finished job's result under ``work`` into one file for ``make_results.py``."""
    runs = [json.loads(p.read_text()) for p in sorted(work.glob("*.json")) if not p.name.endswith(".failed.json")]
    for r in runs:  # results written before the reward-model settings were recorded: read them from the run's config
        config_path = work / r["key"] / "config.json"
        if r["job"]["arm"] == "loop" and "reward_model" not in r and config_path.exists():
            c = json.loads(config_path.read_text())
            r["reward_model"] = {"ensemble_size": c["reward_model"]["ensemble_size"],
                                 "async_training": c["reward_model"]["async_training"],
                                 "refit_epochs": c["reward_model"]["refit_epochs"], "selection": c["selection"]["name"]}
        if r["job"]["arm"] == "loop":  # runs from before the setting existed fixed the statistics at round 0
            r["reward_model"].setdefault("input_statistics", "initial")
            r["reward_model"].setdefault("hidden_sizes", [64, 64])
    failed = [json.loads(p.read_text()) for p in sorted(work.glob("*.failed.json"))]
    grid = plan()
    done = {r["key"] for r in runs}
    data: dict[str, Any] = {
        "benchmark": "label_efficiency",
        "full_grid_command": "python benchmarks/label_efficiency.py --jobs 2",
        "commands": sorted({c for c in [command, *(r.get("command") for r in runs)] if c}),
        "steps": runs[0]["steps"] if runs else None,
        "jobs_in_grid": len(grid),
        "jobs_done": len(done & {j.key for j in grid}),
        "jobs_remaining": [j.key for j in grid if j.key not in done],
        "failed": [{"key": Job(**f["job"]).key, "error": f["error"]} for f in failed],
        "runs": runs,
        **provenance(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=float))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"env steps per run, every arm (default {DEFAULT_STEPS})")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=1, help="jobs at a time (2 on this 2-core machine)")
    parser.add_argument("--only", nargs="+", default=[], metavar="FIELD=V[,V]",
                        help=f"run a subset; fields {', '.join(FILTER_FIELDS)} (ppo has labels=none teacher=none)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--work", default=None, help="work folder (default benchmarks/.work/label_efficiency/steps<N>)")
    parser.add_argument("--out", default=str(RESULTS / "label_efficiency.json"))
    parser.add_argument("--list", action="store_true", help="print every selected job and its state, run nothing")
    parser.add_argument("--collect", action="store_true", help="only gather finished results into --out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override the loop's ExperimentConfig, e.g. reward_model.input_statistics=initial (use "
                             "--work to keep such runs apart from the defaults' runs)")
    parser.add_argument("--run-job", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.jobs < 1 or args.eval_episodes < 1:
        parser.error(f"--steps, --jobs and --eval-episodes must be >= 1, got {args.steps}, {args.jobs}, {args.eval_episodes}")
    work = Path(args.work) if args.work else work_dir(args.steps)
    OVERRIDES[:] = args.overrides
    if args.overrides and not args.work:
        parser.error("--set changes the method: give --work <folder> too, so its runs do not mix with the defaults' runs")
    if args.run_job:
        job = find_job(args.run_job)
        path = run_job(job, args.steps, args.eval_episodes, work, os.environ.get("LABEL_EFFICIENCY_COMMAND"))
        print(path.read_text())
        return 0
    try:
        jobs = select_jobs(plan(seeds=args.seeds), parse_only(args.only))
    except ValueError as exc:
        parser.error(str(exc))
    command = "python benchmarks/label_efficiency.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.list:
        for j in jobs:
            print(f"{job_state(j, work):8s} {j.key}")
        return 0
    if not args.collect:
        os.environ["LABEL_EFFICIENCY_COMMAND"] = command.strip()
        os.environ["LABEL_EFFICIENCY_JOBS"] = str(args.jobs)
        finished, failed = run_all(jobs, args.steps, args.eval_episodes, work, args.jobs)
        print(f"{finished} finished, {failed} failed in this run", flush=True)
    data = collect(work, Path(args.out), None if args.collect else command.strip())
    print(f"{data['jobs_done']} of {data['jobs_in_grid']} grid jobs done; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
