"""``rlhf-robotics [train] [overrides]``: run a preference-learning experiment configured by Hydra.

Every setting is validated (types, ranges, the env id, the labelling app's port) before anything is created;
then ``run_dir`` (default ``runs/<date>/<time>``; a sweep job's own folder) receives ``run_info.json``,
``train.log`` and everything the run writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import logging
import signal
import sys
from collections.abc import Iterator
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
    from rlhf_robotics.robotics.loop import validate_experiment

    try:
        validate_experiment(config)  # e.g. algo=sac on a task with discrete actions
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return config


def read_text_setting(key: str, path: str | None, what: str) -> str:
    """The text of the file a ``key`` setting names (``""`` for None), or a :class:`ConfigError` naming the key,
    the value and the fix."""
    if path is None:
        return ""
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise ConfigError(f"{key}={str(path)!r}: no such file (looked at {file.resolve()}); give the path of a "
                          f"UTF-8 text file with {what}, or leave {key} unset")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{key}={str(path)!r}: cannot be read as UTF-8 text ({err}); save it as UTF-8") from None


def study_instruction(ui: Any, prefix: str = "ui.") -> str | None:
    """The study's instruction for people from ``instruction`` or ``instruction_file`` of ``ui`` (keys named with
    ``prefix`` in errors); None = keep the task's ``env.instruction``."""
    text, path = ui.get("instruction"), ui.get("instruction_file")
    if text is not None and path is not None:
        raise ConfigError(f"{prefix}instruction and {prefix}instruction_file={str(path)!r} are both set; keep one of them")
    if path is not None:
        text = read_text_setting(f"{prefix}instruction_file", path, "the instruction for people")
        if not text.strip():
            raise ConfigError(f"{prefix}instruction_file={str(path)!r}: the file is empty; write the instruction in it")
    return None if text is None else str(text)


def app_config(ui: Any, seed: int) -> Any:
    """The labelling app's typed settings from the ``ui`` group (``labels.source=human``), validated."""
    require_extra("ui", "labels.source=human (the labelling app)")
    from rlhf_robotics.ui.app import AppConfig
    from rlhf_robotics.ui.queue import QueueConfig

    briefing = read_text_setting("ui.briefing_file", ui.get("briefing_file"), "the briefing shown before the first pair")
    for key in ("ssl_keyfile", "ssl_certfile"):
        if ui.get(key) is not None and not Path(str(ui.get(key))).is_file():
            raise ConfigError(f"ui.{key}={str(ui.get(key))!r}: no such file; give a PEM file (see README, "
                              "'Remote annotators'), or leave it unset")
    if (ui.get("ssl_keyfile") is None) != (ui.get("ssl_certfile") is None):
        raise ConfigError("ui.ssl_keyfile and ui.ssl_certfile go together; set both (TLS) or neither")
    try:
        if not isinstance(ui.port, int) or not 0 <= ui.port <= 65535:
            raise ValueError(f"port={ui.port!r}: expected a TCP port from 1 to 65535, or 0 for a free one")
        return AppConfig(require_token=ui.require_token, min_watch_s=ui.min_watch_s, briefing=briefing,
                         trusted_hosts=tuple(ui.trusted_hosts) if ui.get("trusted_hosts") is not None else None,
                         forwarded_allow_ips=ui.get("forwarded_allow_ips"), ssl_keyfile=ui.get("ssl_keyfile"),
                         ssl_certfile=ui.get("ssl_certfile"),
                         queue=QueueConfig(overlap=ui.overlap, gold_rate=ui.gold_rate, repeat_rate=ui.repeat_rate,
                                           practice_pairs=ui.get("practice_pairs", 0), seed=seed))
    except ValueError as err:
        raise ConfigError(f"ui.{err}") from None


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived: unwind (closing the clip pool and the server on the way) and exit.

    A ``BaseException``, like ``KeyboardInterrupt``, so no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (``kill``, job schedulers) and SIGINT (Ctrl-C) into :class:`Stopped` in the main thread.

    Python's default for SIGTERM ends the process at once, without ``finally`` blocks, which left the clip
    render workers running, orphaned (issue 16). A second signal during the clean-up is ignored, so the
    clean-up (a few seconds at most) finishes. Only installed in the main thread (signals arrive there).
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.getsignal(s) for s in signals}
    stopping = False

    def handler(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise Stopped(signum)

    for s in signals:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s in signals:
            signal.signal(s, previous[s])


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
        instruction = study_instruction(cfg.ui)
        if instruction is not None:
            config = dataclasses.replace(config, env=dataclasses.replace(config.env, instruction=instruction))
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
        with stop_on_signals():
            try:
                if app is not None:
                    from rlhf_robotics.ui.server import serve_in_background

                    try:
                        server = serve_in_background(config.run_dir, host=cfg.ui.host, port=cfg.ui.port, config=app)
                    except ValueError as err:
                        raise UsageError(f"ui: {err}") from None
                    print(f"labelling app: {server.url}  (answers are used as they arrive)", flush=True)
                summary = run_experiment(config, resume=bool(resume), progress=not cfg.get("quiet", False))
            finally:  # inside stop_on_signals: a signal during the clean-up cannot cut it short
                if server is not None:
                    server.stop()
    except Stopped as stop:
        # run_experiment's own clean-up has run: the clip pool's workers are terminated, the store is closed.
        log.warning("stopped by %s", stop)
        print(f"error: stopped by {stop}; the clip workers and the labelling app are shut down. Nothing saved is "
              f"lost: continue the run with `rlhf-robotics resume={config.run_dir}` (from its last finished round)",
              file=sys.stderr, flush=True)
        sys.exit(128 + stop.signum)
    finally:
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
