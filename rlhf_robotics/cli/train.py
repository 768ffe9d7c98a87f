"""``rlhf-robotics [overrides]``: run a preference-learning experiment configured by Hydra.

Examples:
    rlhf-robotics                                          # the default experiment
    rlhf-robotics env=hopper teacher=mistake reward_model.ensemble_size=5 selection=disagreement labels.total=700
    rlhf-robotics -m teacher=oracle,mistake seed=0,1,2     # a sweep
    rlhf-robotics resume=runs/2026-11-27/10-00-00          # continue a killed run
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.cli.sweep_jobs import keep_sweep_going
from rlhf_robotics.typed_config import ConfigError, from_mapping

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
log = logging.getLogger("rlhf_robotics")

# Keys of the composed config that steer the command rather than the experiment.
_CLI_KEYS = ("resume", "quiet", "ui")


def experiment_config(cfg: DictConfig) -> Any:
    """The typed :class:`ExperimentConfig` for a composed config, validated (env id included)."""
    from rlhf_robotics.robotics.config import ExperimentConfig
    from rlhf_robotics.robotics.physics import check_env_id

    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    data: dict[str, Any] = {str(k): v for k, v in container.items()}
    for key in _CLI_KEYS:
        data.pop(key, None)
    config = from_mapping(ExperimentConfig, data)
    try:
        check_env_id(config.env.id)
    except ValueError as err:
        raise ConfigError(f"env.id: {err}") from None
    return config


def train(cfg: DictConfig) -> float:
    """Run one experiment; returns its normalised score (for sweepers that optimise it)."""
    from rlhf_robotics.robotics.config import load_config
    from rlhf_robotics.robotics.loop import run_experiment
    from rlhf_robotics.robotics.summary import summary_table

    resume = cfg.get("resume")
    if resume:
        if not (Path(resume) / "config.json").exists():
            raise ConfigError(f"resume={resume!r}: no run there (no config.json); give the run directory to continue")
        config = load_config(resume)
        log.info("resuming %s from its last checkpoint (its own config.json; other overrides are ignored)", resume)
    else:
        config = experiment_config(cfg)
    server = None
    if config.labels.source == "human":
        from rlhf_robotics.ui.app import AppConfig
        from rlhf_robotics.ui.queue import QueueConfig
        from rlhf_robotics.ui.server import serve_in_background

        ui = cfg.ui
        app = AppConfig(require_token=ui.require_token, min_watch_s=ui.min_watch_s,
                        queue=QueueConfig(overlap=ui.overlap, gold_rate=ui.gold_rate, repeat_rate=ui.repeat_rate, seed=config.seed))
        Path(config.run_dir).mkdir(parents=True, exist_ok=True)
        server = serve_in_background(config.run_dir, host=ui.host, port=ui.port, config=app)
        print(f"labelling app: {server.url}  (answers are used as they arrive)", flush=True)
    try:
        summary = run_experiment(config, resume=bool(resume), progress=not cfg.get("quiet", False))
    finally:
        if server is not None:
            server.stop()
    print(summary_table(summary))
    print(json.dumps({"summary": str(Path(config.run_dir) / "summary.json")}))
    return float(summary.normalized_score) if summary.normalized_score is not None else float("nan")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
@keep_sweep_going  # under -m a failed job writes failed.json and the sweep goes on
def _hydra_main(cfg: DictConfig) -> float:
    from rlhf_robotics.robotics.loop import RunDirError

    try:
        return train(cfg)
    except (ConfigError, RunDirError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str]) -> int:
    sys.argv = [sys.argv[0] if sys.argv else "rlhf-robotics", *argv]
    _hydra_main()
    return 0
