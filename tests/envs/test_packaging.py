"""The suite ships inside the package: ``envs/`` is installed as ``rlhf_robotics.envs`` (never as a top-level
``envs``), and the explicit package list in pyproject.toml names every subpackage."""

from __future__ import annotations

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
