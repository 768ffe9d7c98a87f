"""``rlhf-robotics eval run=<dir> [key=value ...]``: evaluate, and record a video of, a run's saved policy —
rl-zoo's ``enjoy`` for a run directory (a Hydra app over ``conf/eval.yaml``). Writes only ``<run>/eval/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from rlhf_robotics.cli.app import App, run_app, typed
from rlhf_robotics.typed_config import ConfigError


@dataclass
class EvalSettings:
    """``conf/eval.yaml``."""

    run: str | None = None
    """The run directory (holding ``checkpoints/``)."""
    round: int | None = None
    """The checkpoint's round; None = the last one saved."""
    episodes: int = 10
    """Evaluation episodes."""
    seed: int | None = None
    """Seed of the evaluation episodes; None = the run's seed + 20000."""
    video: bool = True
    """Record one episode to ``<run>/eval/``."""
    deterministic: bool = True
    """Act with the policy's mean action."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"episodes={self.episodes}: must be >= 1")
        if self.round is not None and self.round < 0:
            raise ValueError(f"round={self.round}: must be >= 0 (or null for the last checkpoint)")


def eval_task(cfg: DictConfig) -> None:
    s = typed(EvalSettings, cfg)
    if s.run is None:
        raise ConfigError("run=...: missing; give the run directory, e.g. rlhf-robotics eval run=runs/<date>/<time>")
    if not (Path(s.run) / "config.json").is_file():
        raise ConfigError(f"run={s.run!r}: no run there (no config.json); give a run directory")
    from rlhf_robotics.robotics.saved_run import evaluate_run

    try:
        result = evaluate_run(s.run, s.episodes, s.seed, s.round, s.video, s.deterministic)
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None
    ours, rand = result.policy_return_true, result.random_return_true
    print(f"{s.run}, checkpoint round {result.round}, {result.episodes} episodes, seed {result.seed}")
    print(f"  true return, saved policy  : {ours.mean:10.1f} ± {ours.std:.1f}")
    print(f"  true return, random policy : {rand.mean:10.1f} ± {rand.std:.1f}")
    if result.video:
        print(f"  video: {result.video}")
    print(json.dumps(result.to_json()))


APP = App(
    command="eval",
    config_name="eval",
    task=eval_task,
    summary="evaluate a run's saved policy on the true objective and record its video",
    usage="rlhf-robotics eval run=runs/2026-11-27/10-00-00                # last checkpoint, 10 episodes, a video\n"
          "rlhf-robotics eval run=<dir> round=3 episodes=20 video=false",
)


def main(argv: list[str]) -> int:
    return run_app(APP, argv)
