"""``rlhf-robotics gallery [key=value ...]``: a short clip of every suite task and a contact sheet under
``videos/gallery/``; with ``runs=[<run dir>,...]`` each run's final policy beside a random policy; with
``benchmark=<suite results file> [arm=loop|ppo]`` each task's best seed of that arm the same way (a Hydra app over
``conf/gallery.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from omegaconf import DictConfig

from rlhf_robotics.cli.app import App, run_app, typed
from rlhf_robotics.typed_config import ConfigError


@dataclass
class GallerySettings:
    """``conf/gallery.yaml``."""

    out: str = "videos/gallery"
    """Output folder."""
    seconds: float = 2.0
    """Simulated seconds per clip."""
    size: int = 256
    """Frame width and height in pixels (even)."""
    preset: Literal["fast", "pretty"] = "fast"
    """Render preset."""
    fps: float = 30.0
    """Clip frame rate."""
    codec: Literal["mp4", "webm"] = "mp4"
    """Video container."""
    seed: int = 0
    """Seed of every task's reset and random actions."""
    frames_per_row: int = 5
    """Frames per task on the contact sheet."""
    runs: list[str] = field(default_factory=list)
    """Run directories whose final policies to show beside random ones; empty: every suite task, random actions."""
    benchmark: str | None = None
    """The suite benchmark's results file (``benchmarks/results/suite.json``): show each task's best seed."""
    arm: Literal["loop", "ppo"] = "loop"
    """With ``benchmark``: whose best seeds, our loop's or true-reward PPO's."""

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"seconds={self.seconds}: must be > 0")
        if self.size < 2 or self.size % 2:
            raise ValueError(f"size={self.size}: must be an even number of pixels >= 2 (video encoders need it)")
        if not self.fps > 0:
            raise ValueError(f"fps={self.fps}: must be > 0")
        if self.frames_per_row < 1:
            raise ValueError(f"frames_per_row={self.frames_per_row}: must be >= 1")
        if self.benchmark is not None and self.runs:
            raise ValueError(f"benchmark={self.benchmark} and runs={self.runs}: give one of them (benchmark= picks "
                             "each task's best seed, runs= shows the run directories given)")
        for run in self.runs:
            if not (Path(run) / "config.json").is_file():
                raise ValueError(f"runs: {run!r} holds no run (no config.json); give run directories of `rlhf-robotics`")


def gallery_task(cfg: DictConfig) -> None:
    s = typed(GallerySettings, cfg)
    from rlhf_robotics.robotics.gallery import GalleryConfig, build_gallery
    from rlhf_robotics.robotics.rendering import RenderConfig
    from rlhf_robotics.robotics.suite_results import SuiteResultsError

    out = Path(s.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={s.out!r}: is a file; give a folder")
    render = RenderConfig(preset=s.preset, width=s.size, height=s.size, fps=s.fps, codec=s.codec)
    config = GalleryConfig(out=out, seconds=s.seconds, seed=s.seed, render=render, frames_per_row=s.frames_per_row,
                           runs=tuple(Path(r) for r in s.runs), arm=s.arm,
                           benchmark=Path(s.benchmark) if s.benchmark is not None else None)
    try:
        summary = build_gallery(config)
    except SuiteResultsError as err:
        raise ConfigError(str(err)) from None
    for entry in summary.get("tasks", summary.get("runs", [])):
        policy = f" {entry['policy']:<8}" if "policy" in entry else ""
        print(f"{entry['env_id']:<42}{policy} {out / entry['clip']}")
    for skipped in summary.get("benchmark", {}).get("skipped", []):
        print(f"skipped {skipped['task']}: {skipped['reason']}")
    print(f"contact sheet: {out / 'contact_sheet.png'}")


APP = App(
    command="gallery",
    config_name="gallery",
    task=gallery_task,
    summary="a short clip of every suite task and one contact sheet (seeded random actions), or learned policies",
    usage="rlhf-robotics gallery                                   # videos/gallery/\n"
          "rlhf-robotics gallery out=/tmp/g seconds=0.5 size=128 preset=pretty\n"
          "rlhf-robotics gallery 'runs=[runs/a,runs/b]'            # each run's final policy beside a random one\n"
          "rlhf-robotics gallery benchmark=benchmarks/results/suite.json arm=loop   # each task's best seed",
)


def main(argv: list[str]) -> int:
    return run_app(APP, argv)
