"""``rlhf-robotics [train] [overrides]``: run a preference-learning experiment configured by Hydra.

Every setting is validated (types, ranges, the env id, the labelling app's port) before anything is created;
then ``run_dir`` (default ``runs/<date>/<time>``; a sweep job's own folder) receives ``run_info.json``,
``train.log`` and everything the run writes.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.cli.app import App, UsageError, conf_dir, require_extra, run_app
from rlhf_robotics.cli.sweep_jobs import keep_sweep_going, write_run_info
from rlhf_robotics.typed_config import ConfigError, from_mapping

CONF_DIR = str(conf_dir())
"""The configs on disk (the live ``conf/`` in a checkout), for tests that compose them."""
log = logging.getLogger("rlhf_robotics")

# Keys of the composed config that steer the command rather than the experiment.
_CLI_KEYS = ("resume", "quiet", "ui")

LAUNCHER_PLUGINS: dict[str, str] = {
    "joblib": "hydra_plugins.hydra_joblib_launcher",
    "local": "hydra_plugins.hydra_joblib_launcher",
    "ray": "hydra_plugins.hydra_ray_launcher",
    "ray_local": "hydra_plugins.hydra_ray_launcher",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
    "slurm": "hydra_plugins.hydra_submitit_launcher",
    "optuna": "hydra_plugins.hydra_optuna_sweeper",
}
"""Launcher/sweeper option → the Hydra plugin (``sweep`` extra) it needs."""


def default_run_dir() -> str:
    """``runs/<date>/<time>`` for a single run; Hydra's job folder for a sweep job."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return str(HydraConfig.get().runtime.output_dir)
    return f"runs/{_dt.datetime.now():%Y-%m-%d/%H-%M-%S}"


def experiment_config(cfg: DictConfig) -> Any:
    """The typed :class:`ExperimentConfig` for a composed config, validated (env id included)."""
    from rlhf_robotics.robotics.config import ExperimentConfig
    from rlhf_robotics.robotics.physics import check_env_id

    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    data: dict[str, Any] = {str(k): v for k, v in container.items()}
    for key in _CLI_KEYS:
        data.pop(key, None)
    if data.get("run_dir") is None:
        data["run_dir"] = default_run_dir()
    config = from_mapping(ExperimentConfig, data)
    try:
        check_env_id(config.env.id)
    except ValueError as err:
        raise ConfigError(f"env.id: {err}") from None
    return config


def app_config(ui: Any, seed: int) -> Any:
    """The labelling app's typed settings from the ``ui`` group (``labels.source=human``), validated."""
    require_extra("ui", "labels.source=human (the labelling app)")
    from rlhf_robotics.ui.app import AppConfig
    from rlhf_robotics.ui.queue import QueueConfig

    try:
        if not isinstance(ui.port, int) or not 0 <= ui.port <= 65535:
            raise ValueError(f"port={ui.port!r}: expected a TCP port from 1 to 65535, or 0 for a free one")
        return AppConfig(require_token=ui.require_token, min_watch_s=ui.min_watch_s,
                         queue=QueueConfig(overlap=ui.overlap, gold_rate=ui.gold_rate, repeat_rate=ui.repeat_rate,
                                           seed=seed))
    except ValueError as err:
        raise ConfigError(f"ui.{err}") from None


def train(cfg: DictConfig) -> float:
    """Run one experiment; returns its normalised score (for sweepers that optimise it)."""
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.loop import RunDirError, finished_summary, holds_run, run_experiment
    from rlhf_robotics.robotics.summary import summary_table

    resume = cfg.get("resume")
    if resume:
        if not (Path(resume) / "config.json").exists():
            raise ConfigError(f"resume={resume!r}: no run there (no config.json); give the run directory to continue")
        done = finished_summary(resume)
        if done is not None:  # say so and change nothing: no log file, no run_info.json, no server
            print(f"{resume} already finished; nothing to resume. Its summary: {Path(resume) / 'summary.json'}")
            print(summary_table(done))
            return float(done.normalized_score) if done.normalized_score is not None else float("nan")
        config = load_config(resume)
        log.info("resuming %s from its last checkpoint (its own config.json; other overrides are ignored)", resume)
    else:
        config = experiment_config(cfg)
        if holds_run(Path(config.run_dir)):
            raise RunDirError(
                f"{config.run_dir} already holds a run; continue it with resume={config.run_dir}, or choose another "
                "run_dir"
            )
    app = app_config(cfg.ui, config.seed) if config.labels.source == "human" else None
    if app is not None:
        from rlhf_robotics.robotics.config import check_reliability_anchors

        try:
            check_reliability_anchors(config.labels.reliability, app.queue.gold_rate, app.queue.repeat_rate)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    # Everything is valid: from here on the run may create files.
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if HydraConfig.initialized() and HydraConfig.get().mode != RunMode.MULTIRUN:
        write_run_info(run_dir, config.seed)
    handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logging.getLogger().addHandler(handler)
    server = None
    try:
        if app is not None:
            from rlhf_robotics.ui.server import serve_in_background

            try:
                server = serve_in_background(config.run_dir, host=cfg.ui.host, port=cfg.ui.port, config=app)
            except ValueError as err:
                raise UsageError(f"ui: {err}") from None
            print(f"labelling app: {server.url}  (answers are used as they arrive)", flush=True)
        summary = run_experiment(config, resume=bool(resume), progress=not cfg.get("quiet", False))
    finally:
        if server is not None:
            server.stop()
        logging.getLogger().removeHandler(handler)
        handler.close()
    print(summary_table(summary))
    print(json.dumps({"summary": str(run_dir / "summary.json")}))
    return float(summary.normalized_score) if summary.normalized_score is not None else float("nan")


@keep_sweep_going  # under -m a failed job writes failed.json and the sweep goes on
def _task(cfg: DictConfig) -> float:
    from rlhf_robotics.robotics.loop import RunDirError

    try:
        return train(cfg)
    except RunDirError as err:
        raise UsageError(str(err)) from None


APP = App(
    command="train",
    config_name="config",
    task=_task,
    summary="run a preference-learning experiment (RLHF on a MuJoCo task); `rlhf-robotics [overrides]` is the same",
    usage="""
rlhf-robotics                                              # the default experiment
rlhf-robotics +experiment=smoke                            # a tiny run to check an installation (about a minute)
rlhf-robotics env=hopper teacher=mistake reward_model.ensemble_size=5 selection=disagreement labels.total=700
rlhf-robotics labels.source=human                          # people label in the web app while the run trains
rlhf-robotics -m teacher=oracle,mistake seed=0,1,2         # a sweep (needs the 'sweep' extra for +sweep=...)
rlhf-robotics resume=runs/2026-11-27/10-00-00              # continue a killed run
""",
    groups=None,
)


def _needed_plugins(argv: list[str]) -> list[str]:
    """Hydra plugins the command line asks for: ``hydra/launcher=X``, ``hydra/sweeper=X`` or a ``+sweep=`` file
    that overrides them."""
    options = []
    for arg in argv:
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if key in ("hydra/launcher", "hydra/sweeper"):
            options.append(value)
        elif key == "sweep":
            path = Path(CONF_DIR) / "sweep" / f"{value}.yaml"
            if path.is_file():
                for line in path.read_text(encoding="utf-8").splitlines():
                    name, _, option = line.strip().lstrip("- ").partition(":")
                    if name.strip() in ("override /hydra/launcher", "override /hydra/sweeper"):
                        options.append(option.strip())
    return [LAUNCHER_PLUGINS[o] for o in options if o in LAUNCHER_PLUGINS]


def main(argv: list[str]) -> int:
    try:
        for module in _needed_plugins(argv):
            require_extra("sweep", f"this sweep ({module.split('.')[-1]})", [module])
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return run_app(APP, argv)
