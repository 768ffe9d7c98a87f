"""The DeepMind Control Suite and Meta-World tasks (the ``suites`` extra, which pins MuJoCo 3.3.0) in their own
virtual environment: every env config runs through the loop, the base suite still runs on that MuJoCo, and DMC and
Meta-World clips render from stored states. The base install (MuJoCo 4 here) is covered by the rest of the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pip(venv: Path, *args: str) -> None:
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.slow
def test_dmc_and_metaworld_tasks_run_through_the_loop_and_render_from_state(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    _pip(venv, "torch==2.13.0")  # the CPU wheel on this disk; first, so nothing pulls a CUDA build
    _pip(venv, "-e", f"{ROOT}[suites]", "pyyaml")
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    r = subprocess.run([str(venv / "bin" / "python"), str(Path(__file__).parent / "external_suites_check.py"),
                        str(ROOT), str(tmp_path / "work")], capture_output=True, text=True, timeout=1800, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["mujoco"] == "3.3.0"
    configs = {p.stem for p in (ROOT / "conf" / "env").glob("dmc_*.yaml")} | {p.stem for p in (ROOT / "conf" / "env").glob("mw_*.yaml")}
    assert len(configs) == 12 and configs <= set(result["runs"])
    for name, run in result["runs"].items():
        assert run["labels_used"] == 8, name
        if name.startswith(("mw_", "dmc_reacher")):  # tasks that place a goal or fixture per episode keep it
            assert run["moves_fixtures"] and run["segments_keep_fixtures"], name
        elif name.startswith("dmc_"):
            assert not run["segments_keep_fixtures"], name
        if name.startswith("mw_"):  # Meta-World's own success check is the verifier: a rate, not null
            assert run["success_rate"] is not None and 0.0 <= run["success_rate"] <= 1.0, name
    assert {"HalfCheetah-v5", "rlhf_robotics/HopperBackflip-v3"} <= set(result["runs"])
    for env_id, check in result["fixtures"].items():  # clips show the episode's goal/fixture where it was
        assert check == {"episodes_place_parts_differently": True, "a_seed_repeats_its_placement": True,
                         "fixtures_change_the_clip": True, "model_restored": True}, env_id
    for env_id, clip in result["render"].items():
        assert clip["first_equals_its_rerender"] and clip["first_differs_from_last"], env_id
        assert clip["distinct_colours"] > 20 and clip["clip_bytes"] > 1000, env_id
