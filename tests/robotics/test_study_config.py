"""The settings of a study (issue 16): each task's instruction and clip framing compose from ``conf/env``; a study
overrides the instruction; bad input (an instruction file that does not exist, a minimum clip duration <= 0) stops
the command before any work with a message naming the key, the value and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rlhf_robotics.cli.train import CONF_DIR, study_instruction
from rlhf_robotics.robotics.config import EnvConfig, LabelsConfig
from rlhf_robotics.robotics.rendering import RenderConfig, playback_rate
from rlhf_robotics.typed_config import ConfigError


def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("env", sorted(p.stem for p in (Path(CONF_DIR) / "env").glob("*.yaml")))
def test_every_task_tells_people_what_a_good_episode_looks_like(env: str) -> None:
    instruction = str(composed(f"env={env}", "run_dir=unused").env.instruction)  # no env is made (the 'suites' tasks)
    assert len(instruction) > 40 and instruction.endswith(".")


def test_a_study_overrides_the_instruction_from_text_or_a_file(tmp_path: Path) -> None:
    cfg = composed("env=hopper", "ui.instruction=Judge the landing only.")
    assert study_instruction(cfg.ui) == "Judge the landing only."
    file = tmp_path / "instruction.txt"
    file.write_text("Prefer the robot that lands softly.\n", encoding="utf-8")
    assert study_instruction(composed(f"ui.instruction_file={file}").ui) == "Prefer the robot that lands softly.\n"
    assert study_instruction(composed().ui) is None, "no override: the task's env.instruction stays"
    with pytest.raises(ConfigError, match="are both set; keep one of them"):
        study_instruction(composed("ui.instruction=x", f"ui.instruction_file={file}").ui)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys\nfrom rlhf_robotics.cli.main import entry\nsys.exit(entry(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MUJOCO_GL": "egl"})


@pytest.mark.parametrize(("override", "message"), [
    ("ui.instruction_file=no/such/file.txt", "error: ui.instruction_file='no/such/file.txt': no such file (looked at "),
    ("ui.briefing_file=missing.md", "error: ui.briefing_file='missing.md': no such file"),
    ("labels.min_clip_seconds=0", "error: labels.min_clip_seconds=0.0: must be > 0 (seconds a clip shown to people "
                                  "lasts at least; about 1.5 is readable)"),
    ("labels.min_clip_seconds=-1.5", "error: labels.min_clip_seconds=-1.5: must be > 0"),
])
def test_bad_study_settings_stop_before_any_work(tmp_path: Path, override: str, message: str) -> None:
    run = tmp_path / "run"
    r = cli("env=hopper", "labels.source=human", f"run_dir={run}", "ui.port=0", override, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    if "file" in override:
        assert "give the path of a UTF-8 text file" in r.stderr, "the fix is named"
    assert not run.exists() and sorted(p.name for p in tmp_path.iterdir()) == [], "nothing created"


def test_min_clip_seconds_is_checked_in_the_library_too() -> None:
    with pytest.raises(ValueError, match=r"labels.min_clip_seconds=0: must be > 0"):
        LabelsConfig(min_clip_seconds=0)
    with pytest.raises(ValueError, match=r"env.clip_width=321: must be an even number of pixels"):
        EnvConfig(clip_width=321)


def test_playback_rate_slows_short_segments_to_the_minimum_and_leaves_long_ones() -> None:
    config = RenderConfig(min_seconds=1.5)
    assert playback_rate(60, 0.008, config) == pytest.approx(0.32)  # Hopper: 0.48 s shown over 1.5 s
    assert playback_rate(30, 0.05, config) == 1.0  # HalfCheetah: 1.5 s already
    assert playback_rate(60, 0.008, RenderConfig()) == 1.0  # no minimum: real time
