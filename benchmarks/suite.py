"""The suite as a benchmark (issue 15): per suite task, PPO on the hidden objective and our loop taught by a
synthetic rubric teacher, 5 seeds each, at the task's own step budget.

Grid: the six suite tasks (every ``conf/env/*.yaml`` whose id is one of ``rlhf_robotics.envs.TASK_IDS``) ×
two arms × seeds 0–4:

- ``ppo``: SB3 PPO on the true (hidden) reward, built as the loop's own ``baseline=True`` arm builds it;
- ``loop``: our preference loop with 1,000 labels from the rubric teacher (``teacher.judge_on=rubric``, the
  task's physics rubric at its own weights, the oracle preset), asked on ``conf/experiment/suite.yaml``'s label
  schedule (equal shares over 20 rounds, PEBBLE's, instead of the default's decaying one) after its state-entropy
  pre-training (PEBBLE's, 100,000 steps; the file says why both; a task whose env config sets
  ``benchmark_pretrain_steps`` uses its own, with the reason there, and a task whose env config sets
  ``benchmark_loop_settings`` runs the loop with those settings on top, e.g. ReacherSmooth's same-episode pairs),
  otherwise the defaults of ``ExperimentConfig``:
  since Dec 4 that includes issue 13's reward refit (in a worker process while PPO steps, the round's first rollout
  relabelled, each member stopped at 97 % accuracy); until then the grid pinned the synchronous refit.
  A loop result made on other label, pre-training or refit settings (or another budget) is set aside and rerun,
  like a result of an earlier task version.

Both arms train with the task's PPO settings as ``rlhf-robotics env=<task>`` composes them (``conf/ppo/default.yaml``
unless the env config selects its own, as rl-zoo keeps per-env hyperparameters); a result made with other PPO
settings is set aside and rerun too.

Every run of a task uses the task's budget, ``benchmark_steps`` in its env config (``--steps`` overrides it for
all tasks, for trials and tests; such runs go to their own work folder). Each run's final policy is evaluated on
50 deterministic episodes (env seeds from the job's seed + 10,000, the same for both arms): true return and the
verifier's success rate (``info["is_success"]`` on each episode's last step; see
``rlhf_robotics.robotics.evaluation.SuccessRate``). Until Dec 3 the grid evaluated 10 episodes, and policies near the
pass line passed or failed by the draw: one HalfCheetahOneLeg PPO policy scored 0.3 on those 10 and 0.6 on 10
others. A result evaluated on fewer episodes is re-evaluated from its kept policy (:func:`reevaluate`: the first
episodes must reproduce its recorded return, the policy is not retrained) when its job is next selected.

Each (arm, task, seed) is one job: a subprocess that writes ``benchmarks/.work/suite/<budget>/<job>.json``
(git-ignored) only when it has finished. A rerun skips every job with a result file and starts unfinished ones
afresh, so the grid can be completed over several sittings; a job that raises writes ``<job>.failed.json`` and
is retried on the next run. After the jobs, every finished result is gathered into
``benchmarks/results/suite.json``, which ``make_results.py`` turns into RESULTS.md's suite section.

Each job's run directory, ``<work>/<job>/``, keeps its final policy: the last checkpoint (``policy.zip``, the
observation statistics, ``state.json``; for ``loop`` also its reward model), ``config.json``, and for ``loop``
the store, metrics and summary; intermediate checkpoints are deleted. The ``ppo`` arm saves its policy in the same
layout (``Checkpointer.save_policy``). A result records ``run_dir``, relative to the repository root when the run
lies inside it (the default work folder) and absolute otherwise, so ``rlhf-robotics gallery
benchmark=benchmarks/results/suite.json`` (run from the repository root) shows each task's best seed.

Cost: HopperBackflip-v3 at 500,000 steps, 2 jobs at a time on 2 cores: a ``loop`` job 290–340 s, a ``ppo`` job
230–400 s (Dec 2; the test suite shared the machine for part of it, so these are indicative, not timings). The other tasks' budgets (0.5–2 M steps once calibrated) scale it roughly linearly.

    .venv/bin/python benchmarks/suite.py --jobs 2                          # the whole grid, resumable
    .venv/bin/python benchmarks/suite.py --jobs 2 --only task=hopper_backflip seed=0,1,2
    .venv/bin/python benchmarks/suite.py --list                            # every job and its state
    .venv/bin/python benchmarks/suite.py --only task=ant_upright           # also re-evaluates its results on < 50 episodes
    .venv/bin/python benchmarks/suite.py --collect                         # only gather finished results
    .venv/bin/python benchmarks/suite.py --steps 2048 --only seed=0        # a trial: own folder and results file
    .venv/bin/python benchmarks/suite.py --jobs 2 --only arm=loop task=reacher_smooth --set selection.cover_episode_edges=true
                                                                           # a trial of loop settings (--set KEY=VALUE)
    .venv/bin/python benchmarks/make_results.py                            # regenerate RESULTS.md
    .venv/bin/rlhf-robotics gallery benchmark=benchmarks/results/suite.json arm=loop   # each task's best seed
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import label_efficiency  # noqa: E402
from _common import (  # noqa: E402
    RESULTS,
    ROOT,
    WORK,
    override_item,
    provenance,
    recorded_segments,
    restore,
    segments_of,
    set_aside,
)

ARMS = ("ppo", "loop")
SEEDS = (0, 1, 2, 3, 4)
LABELS = 1000
EVAL_EPISODES = 50
FILTER_FIELDS = ("arm", "task", "seed")
SYNCHRONOUS_LOOP_REFIT: dict[str, Any] = {"async_training": False, "async_relabel": False, "async_install_steps": None,
                                          "refit_worker": "thread", "stop_accuracy": None}
"""The reward refit of a loop result that records none (:func:`refit_record`): the grid ran the synchronous refit,
every member its full epochs, until Dec 4, when issue 13's default (a background refit that relabels the round's
first rollout, members stopped at 97 % accuracy) replaced it."""
LOOP_OVERRIDES: dict[str, Any] = {}
"""A trial's ``--set KEY=VALUE`` overrides of the loop arm's config (dotted ``ExperimentConfig`` keys); set by
:func:`main` and passed on to each job. A loop result records them (``loop_overrides``), and one made with others is
stale."""


@dataclass(frozen=True)
class Job:
    """One (arm, task, seed) of the grid."""

    arm: str
    """``ppo`` (true reward) or ``loop`` (rubric teacher)."""
    task: str
    """Env config name under ``conf/env/`` (e.g. ``hopper_backflip``)."""
    seed: int

    @property
    def key(self) -> str:
        return f"{self.arm}_{self.task}_seed{self.seed}"


@functools.cache
def env_configs() -> dict[str, Any]:
    """Env config name → its typed ``EnvConfig``, for every config of a suite task, in the suite's order."""
    from rlhf_robotics.envs import TASK_IDS

    from rlhf_robotics.robotics.config import EnvConfig
    from rlhf_robotics.typed_config import from_mapping

    found = {}
    for path in sorted((ROOT / "conf" / "env").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text()) or {}
        raw.pop("defaults", None)  # Hydra's: the task's own PPO settings (task_ppo)
        if raw.get("id") in TASK_IDS:
            found[path.stem] = from_mapping(EnvConfig, raw, prefix="env.")
    order = {env_id: k for k, env_id in enumerate(TASK_IDS)}
    return dict(sorted(found.items(), key=lambda item: order[item[1].id]))


@functools.cache
def task_ppo(task: str) -> Any:
    """The task's PPO settings (a typed ``PPOConfig``) as ``rlhf-robotics env=<task>`` composes them from this
    checkout's ``conf/``: ``conf/ppo/default.yaml``, or the ``ppo`` option the task's env config selects (rl-zoo's
    per-task hyperparameters; ``conf/ppo/default.yaml`` says how). Both arms use them."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from rlhf_robotics.robotics.config import PPOConfig
    from rlhf_robotics.typed_config import from_mapping

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"env={task}"])
    settings = OmegaConf.to_container(cfg.ppo, resolve=True)
    assert isinstance(settings, dict)
    return from_mapping(PPOConfig, {str(k): v for k, v in settings.items()}, prefix="ppo.")


def default_ppo() -> dict[str, Any]:
    """``PPOConfig()`` as a result records it: what a result made before results recorded ``ppo`` ran with."""
    from rlhf_robotics.robotics.config import PPOConfig

    return asdict(PPOConfig())


def result_ppo(result: dict[str, Any]) -> dict[str, Any]:
    """The PPO settings a job result was made with (:func:`default_ppo` for one from before they were recorded)."""
    return result.get("ppo") or default_ppo()


@functools.cache
def loop_settings() -> dict[str, Any]:
    """The ``loop`` arm's teacher and label settings: ``conf/experiment/suite.yaml`` (the preset a user passes as
    ``+experiment=suite``), so the benchmark and the command line run the same loop."""
    raw = yaml.safe_load((ROOT / "conf" / "experiment" / "suite.yaml").read_text())
    return {"teacher": dict(raw["teacher"]), "labels": dict(raw["labels"]), "pretrain": dict(raw.get("pretrain") or {})}


def budget(task: str, steps: int | None = None) -> int:
    """The task's env steps per run: ``steps`` when given, else ``benchmark_steps`` of its env config."""
    if steps is not None:
        return steps
    configured = env_configs()[task].benchmark_steps
    if configured is None:
        raise ValueError(f"conf/env/{task}.yaml has no benchmark_steps; set the task's budget there (or pass --steps)")
    return int(configured)


def plan(seeds: Sequence[int] = SEEDS) -> list[Job]:
    """Every job, seed-major (a partly finished grid has whole seeds), ``ppo`` before ``loop``."""
    return [Job(arm, task, seed) for seed in seeds for task in env_configs() for arm in ARMS]


def parse_only(items: Sequence[str]) -> dict[str, set[str]]:
    """``["task=hopper_backflip", "seed=0,1"]`` → ``{"task": {...}, "seed": {"0", "1"}}``; names the bad item."""
    return label_efficiency.parse_only(items, FILTER_FIELDS, "task=hopper_backflip seed=0,1")


def select_jobs(jobs: Sequence[Job], only: dict[str, set[str]]) -> list[Job]:
    """The jobs whose every filtered field has one of the allowed values."""
    return label_efficiency.select_jobs(jobs, only)


def work_dir(steps: int | None, labels: int = LABELS, root: Path = WORK / "suite",
             overrides: dict[str, Any] | None = None) -> Path:
    """``calibrated`` for the env configs' budgets, ``steps<N>`` for an override; ``_labels<L>`` appended for a
    label budget other than the grid's and ``_set-KEY=VALUE,…`` for ``--set`` overrides, so that runs of different
    settings never mix."""
    name = "calibrated" if steps is None else f"steps{steps}"
    name = name if labels == LABELS else f"{name}_labels{labels}"
    if overrides:
        name += "_set-" + ",".join(override_item(k, v) for k, v in sorted(overrides.items()))
    return root / name


def result_path(job: Job, work: Path) -> Path:
    return work / f"{job.key}.json"


def loop_labels(total: int) -> dict[str, Any]:
    """The ``loop`` arm's label settings at ``total`` labels, as a result records them (``loop_labels``)."""
    return {**loop_settings()["labels"], "total": total}


def loop_pretrain(task: str | None, steps: int) -> dict[str, Any]:
    """The ``loop`` arm's pre-training settings for a run of ``steps`` on ``task``: the preset's, with the task's own
    step count where its env config sets one (``benchmark_pretrain_steps``), cut to a fifth of the run when the run
    is that short (``--steps`` trials; every calibrated budget is far longer). ``task=None``: the preset's alone."""
    settings = dict(loop_settings()["pretrain"])
    if task is not None and (own := env_configs()[task].benchmark_pretrain_steps) is not None:
        settings["steps"] = own
    if settings.get("steps"):
        settings["steps"] = min(int(settings["steps"]), steps // 5)
    return settings


def loop_task_settings(task: str) -> dict[str, Any]:
    """The task's own settings for the ``loop`` arm beyond the preset's (``benchmark_loop_settings`` in its env
    config: dotted experiment-config keys, the reason there), as a loop result records them (``loop_task_settings``)."""
    return dict(sorted(env_configs()[task].benchmark_loop_settings.items()))


def loop_segments(job: Job, steps: int) -> dict[str, Any]:
    """How long the ``loop`` arm's clips are in ``job`` (its env config's, or a trial's ``--set env.…``), as a loop
    result records them (``loop_segments``; one made before Dec 4 records none: :func:`_common.recorded_segments`)."""
    return segments_of(experiment_config(job, steps, LABELS, ROOT).env)


def refit_record(config: Any) -> dict[str, Any]:
    """How ``config`` (an ``ExperimentConfig``) refits the reward model, as a loop result records it (``loop_refit``)."""
    rm = config.reward_model
    return {"async_training": rm.async_training, "async_relabel": rm.async_relabel,
            "async_install_steps": rm.async_install_steps, "refit_worker": rm.refit_worker,
            "stop_accuracy": rm.techniques.stop_accuracy}


def loop_refit(job: Job, steps: int) -> dict[str, Any]:
    """The reward refit the loop arm runs ``job`` with: the package's default for PPO (issue 13), or a trial's."""
    return refit_record(experiment_config(job, steps, LABELS, ROOT))


def stale_result(job: Job, result: dict[str, Any], steps: int | None = None) -> bool:
    """``result`` (a job's loaded result) was made on an earlier version of its task, on another budget, on other
    PPO settings than :func:`task_ppo`, or (``loop``) on other label, pre-training or refit settings than
    :func:`loop_labels`, :func:`loop_pretrain`, :func:`loop_refit`, :func:`loop_task_settings` and
    :func:`loop_segments` (the clip length) give, or with other ``--set`` overrides (a
    result without ``loop_pretrain`` was made before the preset had any: none; one without ``loop_refit`` ran
    :data:`SYNCHRONOUS_LOOP_REFIT`)."""
    n = budget(job.task, steps)
    if (result.get("env_id") != env_configs()[job.task].id or result.get("steps") != n
            or result_ppo(result) != asdict(task_ppo(job.task))):
        return True
    if job.arm != "loop":
        return False
    config = experiment_config(job, n, LABELS, ROOT)  # the refit and the clips the job would run with now
    return (result.get("loop_labels") != loop_labels(int(result.get("labels") or 0))
            or result.get("loop_pretrain", {}) != loop_pretrain(job.task, n)
            or result.get("loop_refit", SYNCHRONOUS_LOOP_REFIT) != refit_record(config)
            or recorded_segments(result) != segments_of(config.env)
            # the settings the loop ran with: the task's own with a trial's over them (a trial of what the task has
            # since adopted is current, e.g. held-out seeds run with --set before the env config said the same)
            or {**result.get("loop_task_settings", {}), **result.get("loop_overrides", {})}
            != {**loop_task_settings(job.task), **LOOP_OVERRIDES})


def stale(job: Job, work: Path, steps: int | None = None) -> bool:
    """The job has a result, and it is stale (:func:`stale_result`): the job runs again and the old result is kept
    aside."""
    path = result_path(job, work)
    return path.exists() and stale_result(job, json.loads(path.read_text()), steps)


def job_state(job: Job, work: Path, steps: int | None = None) -> str:
    """``done`` (result file), ``superseded`` (a stale result: earlier task version, budget or label settings; the
    job runs again),
    ``failed`` (the last try raised) or ``pending``."""
    if result_path(job, work).exists():
        return "superseded" if stale(job, work, steps) else "done"
    return "failed" if (work / f"{job.key}.failed.json").exists() else "pending"


# ----------------------------------------------------------------------------------------------------------
# One job, in its own process (``--run-job KEY``)
# ----------------------------------------------------------------------------------------------------------
def experiment_config(job: Job, steps: int, labels: int, run_dir: Path) -> Any:
    """The job's ``ExperimentConfig``: the package's defaults (the reward refit included: issue 13's, since Dec 4)
    with the suite preset's teacher, labels and pre-training, the task's PPO settings, and for ``loop`` the task's own
    loop settings (:func:`loop_task_settings`) and a trial's :data:`LOOP_OVERRIDES` over them."""
    from rlhf_robotics.robotics.config import ExperimentConfig, LabelsConfig, PretrainConfig, TeacherSettings

    config = ExperimentConfig(
        env=env_configs()[job.task], ppo=task_ppo(job.task), labels=LabelsConfig(**loop_labels(labels)),
        teacher=TeacherSettings(**loop_settings()["teacher"]),
        pretrain=PretrainConfig(**loop_pretrain(job.task, steps)) if job.arm == "loop" else PretrainConfig(),
        total_steps=steps, seed=job.seed, run_dir=str(run_dir), baseline=False, eval_episodes=EVAL_EPISODES,
        video=False, device="cpu",
    )
    if job.arm != "loop":
        return config
    if own := loop_task_settings(job.task):
        config = with_overrides(config, own, f"conf/env/{job.task}.yaml's benchmark_loop_settings:")
    return with_overrides(config, LOOP_OVERRIDES) if LOOP_OVERRIDES else config


def with_overrides(config: Any, overrides: dict[str, Any], source: str = "--set") -> Any:
    """``config`` with each dotted key of ``overrides`` set, validated as the command line validates it; an error
    names ``source`` (where the overrides were given) and the key."""
    from rlhf_robotics.robotics.config import ExperimentConfig
    from rlhf_robotics.typed_config import from_mapping

    data = asdict(config)
    for key, value in overrides.items():
        node, *path = data, *key.split(".")
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"{source} {key}={value}: {part!r} is not a config group; give a dotted key of the "
                                 "experiment config, e.g. selection.cover_episode_edges=true")
            node = node[part]
        if path[-1] not in node and path[:-1] != ["env", "kwargs"]:  # env.kwargs is the task's own, free mapping
            raise ValueError(f"{source} {key}={value}: no such key; give a dotted key of the experiment config, e.g. "
                             "selection.cover_episode_edges=true")
        node[path[-1]] = value
    return from_mapping(ExperimentConfig, data)


class _SetLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats, as Hydra's command line reads them: ``3e-6`` is a number (YAML 1.1,
    PyYAML's default, wants ``3.0e-6`` and reads ``3e-6`` as a string)."""


_SetLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                                 list("-+0123456789."))


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``["selection.cover_episode_edges=true"]`` → ``{"selection.cover_episode_edges": True}`` (values read as
    YAML, numbers as Hydra reads them: ``3e-6`` too); names the bad item."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. selection.cover_episode_edges=true")
        out[key] = yaml.load(value, Loader=_SetLoader)  # a SafeLoader
    return dict(sorted(out.items()))


def run_loop(job: Job, steps: int, labels: int, run_dir: Path) -> dict[str, Any]:
    from rlhf_robotics.robotics.loop import run_experiment

    s = run_experiment(experiment_config(job, steps, labels, run_dir), progress=False).to_json()
    return {"return_true": s["policy_return_true"], "success": s["policy_success"],
            "random_return_true": s["random_return_true"], "random_success": s["random_success"],
            "initial_return_true": s["initial_policy_return_true"], "initial_success": s["initial_policy_success"],
            "labels_used": s["labels_used"], "reward_model_accuracy_vs_oracle": s["reward_model_accuracy_vs_oracle"],
            "reward_correlation_step": s["reward_correlation_step"], "wall_seconds": s["wall_seconds"]["loop_total"]}


def true_reward_ppo(config: Any) -> tuple[Any, Any]:
    """SB3 PPO on the task's true reward and its normalised vector env, built as the loop's ``baseline=True`` arm
    builds them (one torch thread); also ``suite_calibration.py``'s learner."""
    import torch

    from rlhf_robotics.robotics.policy import make_ppo, make_vec_env, normalize

    torch.set_num_threads(1)
    venv = normalize(make_vec_env(config, config.seed), config.ppo)
    return make_ppo(config.ppo, venv, config.seed, "cpu"), venv


def keep_policy(run_dir: Path, config: Any, model: Any, venv: Any) -> None:
    """Save a true-reward PPO's final policy as a run directory (``config.json`` + ``checkpoints/``), the layout
    ``rlhf-robotics eval`` and ``gallery`` read."""
    from rlhf_robotics.robotics.checkpoint import TRUE_REWARD, Checkpointer

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))
    Checkpointer(run_dir).save_policy(0, model, venv, {"num_timesteps": model.num_timesteps, "reward": TRUE_REWARD})


def run_ppo(job: Job, steps: int, labels: int, run_dir: Path) -> dict[str, Any]:
    """PPO on the true reward, built as the loop's ``baseline=True`` arm builds it."""
    from rlhf_robotics.robotics.evaluation import evaluate_policy
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.policy import obs_rms

    config = experiment_config(job, steps, labels, run_dir)
    model, venv = true_reward_ppo(config)
    start = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - start
    keep_policy(run_dir, config, model, venv)
    make_env = env_factory(config.env.id, config.env.kwargs, config.env.christiano)
    ev = evaluate_policy(model, make_env, EVAL_EPISODES, config.seed + 10_000, obs_rms(venv))
    venv.close()
    return {"return_true": asdict(ev.returns), "success": asdict(ev.success), "labels_used": 0, "wall_seconds": wall}


RUNNERS = {"loop": run_loop, "ppo": run_ppo}


def needs_reevaluation(job: Job, work: Path, steps: int | None = None) -> bool:
    """The job's current (not stale) result was evaluated on fewer than ``EVAL_EPISODES`` episodes and its final
    policy is on this machine (a published result restored on a fresh clone has none: it keeps its episodes)."""
    from rlhf_robotics.robotics.suite_results import final_policy_missing

    path = result_path(job, work)
    if not path.exists() or stale(job, work, steps):
        return False
    result = json.loads(path.read_text())
    return (int(result.get("eval_episodes") or 0) < EVAL_EPISODES and bool(result.get("run_dir"))
            and final_policy_missing(ROOT / result["run_dir"]) is None)


def reevaluate(job: Job, work: Path) -> str:
    """Evaluate a finished job's kept final policy on ``EVAL_EPISODES`` episodes and rewrite its result with them;
    returns what was done. The evaluation uses the job's own env seeds (seed + 10,000), so its first episodes are
    the ones already recorded: they are evaluated again first and must reproduce the recorded mean return, else the
    result is left as it is (the kept policy is not the one evaluated). The earlier figures stay under
    ``evaluated_earlier``; the loop's ``initial_*`` figures (the untrained policy, not kept) stay on their episodes,
    named by ``initial_eval_episodes``. A result whose policy is not on this machine (a published run restored on a
    fresh clone) is left as it is."""
    from rlhf_robotics.robotics.saved_run import evaluate_run
    from rlhf_robotics.robotics.suite_results import final_policy_missing

    path = result_path(job, work)
    result = json.loads(path.read_text())
    run_dir = ROOT / result["run_dir"]
    if (missing := final_policy_missing(run_dir)) is not None:
        return f"left on {result['eval_episodes']} episodes: {missing}"
    seed = job.seed + 10_000
    old = int(result["eval_episodes"])
    again = evaluate_run(run_dir, old, seed=seed, video=False)
    recorded = float(result["return_true"]["mean"])
    if abs(again.policy_return_true.mean - recorded) > 1e-6 * max(1.0, abs(recorded)):
        return (f"left on {old} episodes: its kept policy returns {again.policy_return_true.mean:.6f} on them, "
                f"the result {recorded:.6f}")
    ev = evaluate_run(run_dir, EVAL_EPISODES, seed=seed, video=False)
    success, random_success = ev.policy_success, ev.random_success
    assert success is not None and random_success is not None  # evaluate_run always reads the verifier
    updated = {
        **result, "eval_episodes": EVAL_EPISODES,
        "return_true": asdict(ev.policy_return_true), "success": asdict(success),
        "random_return_true": asdict(ev.random_return_true), "random_success": asdict(random_success),
        "evaluated_earlier": {k: result[k] for k in ("eval_episodes", "return_true", "success", "random_return_true",
                                                     "random_success") if k in result},
        **({"initial_eval_episodes": int(result.get("initial_eval_episodes", old))} if "initial_return_true" in result
           else {}),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(updated, indent=2, default=float))
    tmp.replace(path)
    return (f"{old} → {EVAL_EPISODES} episodes: success {result['success']['rate']} → {success.rate}, "
            f"return {recorded:.1f} → {ev.policy_return_true.mean:.1f}")


def recorded_path(path: Path) -> str:
    """``path`` as a result records it: relative to the repository root when inside it (results files are
    committed; clones differ in where they live), absolute otherwise."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_job(job: Job, steps: int, labels: int, work: Path, command: str | None = None) -> Path:
    """Run one job in this process and write its result file; a failure writes ``<job>.failed.json``."""
    work.mkdir(parents=True, exist_ok=True)
    run_dir = work / job.key
    if stale(job, work, steps):  # keep the earlier result's figures and policy
        moved = set_aside(result_path(job, work))
        if run_dir.exists():
            run_dir.rename(moved.with_suffix(""))
            moved.write_text(json.dumps({**json.loads(moved.read_text()), "run_dir": recorded_path(moved.with_suffix(""))},
                                        indent=2, default=float))
    shutil.rmtree(run_dir, ignore_errors=True)  # a partial run of a killed job starts afresh
    (work / f"{job.key}.failed.json").unlink(missing_ok=True)
    start, cpu0 = time.perf_counter(), time.process_time()
    try:
        measured = RUNNERS[job.arm](job, steps, labels, run_dir)
    except Exception as exc:
        (work / f"{job.key}.failed.json").write_text(json.dumps(
            {"job": asdict(job), "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}, indent=2))
        raise
    from rlhf_robotics.robotics.checkpoint import Checkpointer

    Checkpointer(run_dir).keep_latest_only()  # the final policy stays for the gallery; earlier rounds go
    result = {"job": asdict(job), "key": job.key, "command": command, "env_id": env_configs()[job.task].id,
              "run_dir": recorded_path(run_dir), "steps": steps, "labels": labels if job.arm == "loop" else 0,
              "ppo": asdict(task_ppo(job.task)),
              **({"loop_labels": loop_labels(labels), "loop_pretrain": loop_pretrain(job.task, steps),
                  "loop_refit": loop_refit(job, steps), "loop_task_settings": loop_task_settings(job.task),
                  "loop_segments": loop_segments(job, steps),
                  "loop_overrides": LOOP_OVERRIDES} if job.arm == "loop" else {}),
              "eval_episodes": EVAL_EPISODES, **measured,
              "job_wall_seconds": time.perf_counter() - start, "job_cpu_seconds": time.process_time() - cpu0,
              **provenance()}
    tmp = result_path(job, work).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    tmp.replace(result_path(job, work))  # the result appears whole or not at all
    return result_path(job, work)


# ----------------------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------------------
def launch(job: Job, steps: int | None, labels: int, work: Path, command: str) -> bool:
    """Run ``job`` in a subprocess with one thread per library; True when it wrote its result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    args = [sys.executable, str(Path(__file__).resolve()), "--run-job", job.key, "--labels", str(labels),
            "--work", str(work), "--command", command, *(["--steps", str(steps)] if steps is not None else []),
            *(["--set", *(f"{k}={json.dumps(v)}" for k, v in LOOP_OVERRIDES.items())] if LOOP_OVERRIDES else [])]
    with open(work / f"{job.key}.log", "w") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    ok = proc.returncode == 0 and result_path(job, work).exists()
    print(f"{'done  ' if ok else 'FAILED'} {job.key} in {time.perf_counter() - start:.0f} s"
          + ("" if ok else f" (exit {proc.returncode}; see {work / (job.key + '.log')})"), flush=True)
    return ok


def collect(work: Path, out: Path, steps: int | None, labels: int) -> dict[str, Any]:
    """Gather every finished result under ``work`` into one file for ``make_results.py``."""
    found = [json.loads(p.read_text()) for p in sorted(work.glob("*.json")) if not p.name.endswith(".failed.json")]
    configs = env_configs()
    runs = [r for r in found if r["job"]["task"] in configs and not stale_result(Job(**r["job"]), r, steps)]
    earlier = [r for r in found if r not in runs] + [json.loads(p.read_text()) for p in sorted(work.glob("superseded/*.json"))]
    failed = [json.loads(p.read_text()) for p in sorted(work.glob("*.failed.json"))]
    grid, done = plan(), {r["key"] for r in runs}
    data: dict[str, Any] = {
        "benchmark": "suite",
        "full_grid_command": "python benchmarks/suite.py --jobs 2",
        "commands": sorted({c for c in (r.get("command") for r in runs) if c}),
        "budget_source": "env configs (benchmark_steps)" if steps is None else f"--steps {steps} for every task",
        "labels": labels,
        "run_dirs": "each run's run_dir holds its final policy: relative to the repository root, or absolute",
        # the loop's pre-training per task, and the preset's at the same budget (RESULTS.md names a loop row whose
        # pre-training is not the preset's)
        "tasks": {t: {"env_id": c.id, "steps": budget(t, steps), "ppo": asdict(task_ppo(t)),
                      "loop_pretrain_steps": int(loop_pretrain(t, budget(t, steps)).get("steps") or 0),
                      "preset_pretrain_steps": int(loop_pretrain(None, budget(t, steps)).get("steps") or 0),
                      "loop_task_settings": loop_task_settings(t),
                      "loop_segments": segments_of(c)}
                  for t, c in env_configs().items()},
        "jobs_in_grid": len(grid), "jobs_done": len(done & {j.key for j in grid}),
        "jobs_remaining": [j.key for j in grid if j.key not in done],
        "failed": [{"key": Job(**f["job"]).key, "error": f["error"]} for f in failed],
        "runs": runs,
        # made on an earlier task version, budget or label schedule, or set aside by hand in <work>/superseded/ (a
        # task rerun on the machine that ran its other arm); not in the tables
        "superseded_runs": earlier,
        "loop_settings": loop_settings(),
        **provenance(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=float))
    return data


def restore_published(work: Path, published: Path = RESULTS / "suite.json") -> int:
    """Put the published grid's (or a trial's) runs back into ``work`` (its set-aside runs into
    ``work/superseded/``), so the grid or trial continued on a fresh clone skips them and ``--collect`` keeps them;
    returns how many were written. Never overwrites. The policies they name stay on the machine that made them."""
    if not published.exists():
        return 0
    data = json.loads(published.read_text())
    work.mkdir(parents=True, exist_ok=True)
    return (sum(restore(r, result_path(Job(**r["job"]), work)) for r in data.get("runs", []))
            + sum(restore(r, result_path(Job(**r["job"]), work), aside=True) for r in data.get("superseded_runs", [])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None,
                        help="env steps per run for every task (default: each env config's benchmark_steps)")
    parser.add_argument("--labels", type=int, default=LABELS, help=f"the loop's label budget (default {LABELS})")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=1, help="jobs at a time (2 on a 2-core machine)")
    parser.add_argument("--only", nargs="+", default=[], metavar="FIELD=V[,V]",
                        help=f"run a subset; fields {', '.join(FILTER_FIELDS)}")
    parser.add_argument("--work", default=None, help="work folder (default benchmarks/.work/suite/<budget>)")
    parser.add_argument("--out", default=None,
                        help="results file (default benchmarks/results/suite.json for the grid's settings; a trial "
                             "with --steps or another --labels writes suite_<work folder>.json, never the grid's)")
    parser.add_argument("--list", action="store_true", help="print every selected job and its state, run nothing")
    parser.add_argument("--collect", action="store_true", help="only gather finished results into --out")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="a trial of the loop arm with these config overrides (dotted keys, e.g. "
                             "selection.cover_episode_edges=true): its own work folder and results file")
    parser.add_argument("--run-job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.steps is not None and args.steps < 1) or args.jobs < 1 or args.labels < 1:
        parser.error(f"--steps, --jobs and --labels must be >= 1, got {args.steps}, {args.jobs}, {args.labels}")
    try:
        LOOP_OVERRIDES.clear()
        LOOP_OVERRIDES.update(parse_set(args.overrides))
    except ValueError as exc:
        parser.error(str(exc))
    work = Path(args.work) if args.work else work_dir(args.steps, args.labels, overrides=LOOP_OVERRIDES)
    trial = args.steps is not None or args.labels != LABELS or bool(LOOP_OVERRIDES)
    if args.out is None:
        name = work_dir(args.steps, args.labels, overrides=LOOP_OVERRIDES).name
        args.out = str(RESULTS / (f"suite_{name}.json" if trial else "suite.json"))
    if not args.run_job and args.work is None and (restored := restore_published(work, Path(args.out))):
        # a trial's file too: its runs made elsewhere would otherwise vanish from it when this run rewrites it
        print(f"{restored} runs taken from {args.out} (this machine's work folder did not have them)")
    if args.run_job:
        job = next((j for j in plan(seeds=range(100)) if j.key == args.run_job), None)
        if job is None:
            parser.error(f"no job named {args.run_job!r}; see --list for the names")
        print(run_job(job, budget(job.task, args.steps), args.labels, work, args.command).read_text())
        return 0
    try:
        jobs = select_jobs(plan(seeds=args.seeds), parse_only(args.only))
        for task in dict.fromkeys(j.task for j in jobs if j.arm == "loop") if LOOP_OVERRIDES else ():
            # a bad key or value fails here, checked at the task's own budget (pre-training must fit in it)
            with_overrides(experiment_config(Job("loop", task, 0), budget(task, args.steps), args.labels, ROOT),
                           LOOP_OVERRIDES)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        for j in jobs:
            again = "; re-evaluated on the next run" if needs_reevaluation(j, work, args.steps) else ""
            print(f"{job_state(j, work, args.steps):8s} {j.key}  ({budget(j.task, args.steps):,} steps{again})")
        return 0
    if not args.collect:
        command = " ".join(["python benchmarks/suite.py", *(sys.argv[1:] if argv is None else argv)])
        todo = [j for j in jobs if job_state(j, work, args.steps) != "done"]
        print(f"{len(jobs) - len(todo)} of {len(jobs)} selected jobs already done; running {len(todo)}, "
              f"{args.jobs} at a time", flush=True)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            oks = list(pool.map(lambda j: launch(j, args.steps, args.labels, work, command), todo))
        print(f"{sum(oks)} finished, {len(oks) - sum(oks)} failed in this run", flush=True)
        for j in (j for j in jobs if needs_reevaluation(j, work, args.steps)):
            print(f"re-evaluated {j.key}: {reevaluate(j, work)}", flush=True)
    data = collect(work, Path(args.out), args.steps, args.labels)
    print(f"{data['jobs_done']} of {data['jobs_in_grid']} grid jobs done; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
