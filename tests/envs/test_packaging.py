"""The suite and the configs ship inside the package: ``envs/`` is installed as ``rlhf_robotics.envs`` (never as a
top-level ``envs``), ``conf/`` as ``rlhf_robotics.conf``, and the explicit package list in pyproject.toml names
every subpackage. A slow test installs a built wheel without extras in a fresh venv and uses the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import rlhf_robotics.envs

ROOT = Path(__file__).resolve().parents[2]


def test_envs_is_importable_as_part_of_the_package() -> None:
    assert Path(rlhf_robotics.envs.__file__).resolve().parent == ROOT / "envs"


def test_pyproject_lists_every_subpackage_and_maps_envs() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "rlhf_robotics").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    missing = on_disk - listed
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml (wheels skip them)"
    assert config["package-dir"]["rlhf_robotics.envs"] == "envs"
    assert "envs" not in listed, "never install a top-level module called envs (DESIGN §2)"


def test_configs_ship_as_package_data_and_an_editable_install_reads_the_live_conf() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["rlhf_robotics.conf"] == "conf"
    assert "rlhf_robotics.conf" in config["packages"]
    assert "**/*.yaml" in config["package-data"]["rlhf_robotics.conf"]
    # Declared data only: the manifest scan printed a "Package would be ignored" banner per data folder.
    assert config["include-package-data"] is False
    from rlhf_robotics.cli.app import conf_dir

    assert conf_dir() == ROOT / "conf", "this checkout's Hydra configs are read from the live conf/ folder"
    assert [p.name for p in (ROOT / "conf").glob("*.py")] == ["__init__.py"], "conf/ is YAML (and an empty init)"


def _run(args: list[str], cwd: Path, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**clean, **env})
    return r


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_a_wheel_without_extras_runs_help_a_smoke_run_and_label_export_outside_the_checkout(tmp_path: Path) -> None:
    """Issue 11: `pip install .` used to give a CLI that could not find its configs."""
    dist = tmp_path / "dist"
    r = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(dist)],
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "would be ignored" not in r.stdout + r.stderr, "package data is declared, not guessed"
    (wheel,) = dist.glob("rlhf_robotics-*.whl")
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path).returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    r = _run([*pip, "torch==2.13.0"], cwd=tmp_path)  # pinned first: an unpinned torch pulls CUDA wheels
    assert r.returncode == 0, r.stderr[-3000:]
    r = _run([*pip, str(wheel)], cwd=tmp_path)  # no extras: no ui, lm, sweep
    assert r.returncode == 0, r.stderr[-3000:]
    assert "would be ignored" not in r.stdout + r.stderr
    cli = str(venv / "bin" / "rlhf-robotics")
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    r = _run([str(venv / "bin" / "python"), "-c", "import rlhf_robotics.conf as c; print(c.__file__)"], cwd=outside)
    assert str(venv) in r.stdout, "the configs come from the installed wheel, not the checkout"
    r = _run([cli, "--help"], cwd=outside)
    assert r.returncode == 0 and "rlhf-robotics label" in r.stdout, r.stderr[-3000:]
    assert "lm/" not in r.stdout

    run = outside / "run"
    r = _run([cli, "+experiment=smoke", f"run_dir={run}", "video_dir=videos", "quiet=true",
              # smaller still than smoke: this checks the installation, not learning
              "total_steps=1024", "baseline=false", "eval_episodes=1", "env.n_envs=2", "ppo.n_steps=128",
              "ppo.batch_size=64", "ppo.n_epochs=1", "labels.total=6", "labels.initial_steps=256", "labels.rounds=1"],
             cwd=outside, MUJOCO_GL="egl")
    assert r.returncode == 0, r.stderr[-3000:]
    (video,) = (outside / "videos").glob("*.mp4")
    assert video.stat().st_size > 1000
    assert (run / "summary.json").is_file() and (run / "run_info.json").is_file()

    r = _run([cli, "label", "export", f"run={run}", "out=labels.jsonl"], cwd=outside)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len((outside / "labels.jsonl").read_text().splitlines()) > 6
    r = _run([cli, "label", f"run={run}"], cwd=outside)
    assert r.returncode == 2 and "pip install 'rlhf_robotics[ui]'" in r.stderr, r.stderr[-3000:]
    r = _run([cli, "-m", "+sweep=smoke"], cwd=outside)
    assert r.returncode == 2 and "pip install 'rlhf_robotics[sweep]'" in r.stderr, r.stderr[-3000:]
