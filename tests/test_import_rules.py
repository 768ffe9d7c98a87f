"""The import rules of DESIGN §2, checked by walking the source with ``ast``:

(a) ``rlhf_robotics/preference`` imports only the standard library, numpy, torch and itself;
(b) the tracks ``robotics``, ``lm`` and ``ui`` never import one another (they may import ``preference``);
(c) only ``rlhf_robotics/cli`` imports hydra or omegaconf.

Every import counts: top-level, inside functions, under ``TYPE_CHECKING``, relative, and
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name. Packages that do not exist yet
are skipped.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rlhf_robotics"
TRACKS = ("robotics", "lm", "ui")
PREFERENCE_THIRD_PARTY = {"numpy", "torch"}
CONFIG_LIBRARIES = {"hydra", "omegaconf"}


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` under ``root`` (``root/rlhf_robotics/lm/model.py`` → ``rlhf_robotics.lm.model``).

    ``root/envs`` is installed as ``rlhf_robotics.envs``.
    """
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[0] == "envs":
        parts.insert(0, PACKAGE)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """Every module name ``path`` imports, absolute, with its line number.

    ``from x import a`` yields ``x.a`` (``a`` may be a submodule, as in ``from rlhf_robotics import lm``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)]) if node.level - 1 < len(parts) else ""
                base = ".".join(p for p in (base, node.module) if p)
            else:
                base = node.module or ""
            for alias in node.names:
                yield (base if alias.name == "*" else f"{base}.{alias.name}"), node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value, node.lineno


def violations(root: Path) -> list[tuple[str, str, str]]:
    """``(file, imported module, rule)`` for every import under ``root/rlhf_robotics`` (and ``root/envs``,
    shipped as ``rlhf_robotics.envs``) that breaks a rule."""
    found = []
    for path in sorted([*(root / PACKAGE).rglob("*.py"), *(root / "envs").rglob("*.py")]):
        module = module_name(path, root)
        parts = module.split(".")
        area = parts[1] if len(parts) > 1 else ""
        rel = path.relative_to(root).as_posix()
        for name, lineno in imports_of(path, module):
            top = name.split(".")[0]
            where = f"{rel}:{lineno}"
            if area == "preference":
                own = name == f"{PACKAGE}.preference" or name.startswith(f"{PACKAGE}.preference.")
                if not (own or top in sys.stdlib_module_names or top in PREFERENCE_THIRD_PARTY):
                    found.append((where, name, "preference imports only stdlib, numpy, torch and itself"))
            if area in TRACKS:
                for other in TRACKS:
                    target = f"{PACKAGE}.{other}"
                    if other != area and (name == target or name.startswith(target + ".")):
                        found.append((where, name, f"{area} must not import {other}"))
            if top in CONFIG_LIBRARIES and area != "cli":
                found.append((where, name, "only rlhf_robotics/cli imports hydra or omegaconf"))
    return found


def files_in(area: str) -> list[Path]:
    folder = ROOT / PACKAGE / area
    if not folder.is_dir():
        pytest.skip(f"{PACKAGE}/{area} does not exist yet")
    return sorted(folder.rglob("*.py"))


def test_preference_imports_only_stdlib_numpy_torch_and_itself() -> None:
    assert files_in("preference")
    bad = [v for v in violations(ROOT) if v[2].startswith("preference")]
    assert not bad, "\n".join(map(str, bad))


@pytest.mark.parametrize("track", TRACKS)
def test_tracks_do_not_import_one_another(track: str) -> None:
    assert files_in(track)
    bad = [v for v in violations(ROOT) if v[2].startswith(f"{track} must not")]
    assert not bad, "\n".join(map(str, bad))


def test_only_cli_imports_hydra_or_omegaconf() -> None:
    bad = [v for v in violations(ROOT) if "hydra" in v[2]]
    assert not bad, "\n".join(map(str, bad))


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_catches_planted_bad_imports(tmp_path: Path) -> None:
    write(tmp_path, "rlhf_robotics/__init__.py", "")
    write(tmp_path, "rlhf_robotics/preference/__init__.py", "import numpy as np\nfrom . import losses\nfrom .store import Store\n")
    write(tmp_path, "rlhf_robotics/preference/losses.py",
          "from __future__ import annotations\nimport math, sqlite3\nimport torch.nn.functional as F\n"
          "from rlhf_robotics.preference.records import Judgment\n")
    write(tmp_path, "rlhf_robotics/preference/lazy.py", "def f():\n    import gymnasium\n")
    write(tmp_path, "rlhf_robotics/preference/up.py", "from ..robotics import loop\n")
    write(tmp_path, "rlhf_robotics/preference/top.py", "import rlhf_robotics\n")
    write(tmp_path, "rlhf_robotics/robotics/__init__.py", "")
    write(tmp_path, "rlhf_robotics/robotics/loop.py",
          "from rlhf_robotics.preference import store\nfrom rlhf_robotics.lm import model\n"
          "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rlhf_robotics import ui\n")
    write(tmp_path, "rlhf_robotics/lm/dyn.py",
          "import importlib\nmod = importlib.import_module('rlhf_robotics.robotics.loop')\n")
    write(tmp_path, "rlhf_robotics/lm/sibling.py", "from ..ui.app import serve\nfrom .model import GPT\n")
    write(tmp_path, "rlhf_robotics/ui/app.py", "from omegaconf import OmegaConf\n")
    write(tmp_path, "rlhf_robotics/cli/main.py",
          "import hydra\nfrom omegaconf import DictConfig\nfrom rlhf_robotics import robotics, lm, ui\n")

    found = {(where, name) for where, name, _ in violations(tmp_path)}
    assert found == {
        ("rlhf_robotics/preference/lazy.py:2", "gymnasium"),
        ("rlhf_robotics/preference/up.py:1", "rlhf_robotics.robotics.loop"),
        ("rlhf_robotics/preference/top.py:1", "rlhf_robotics"),
        ("rlhf_robotics/robotics/loop.py:2", "rlhf_robotics.lm.model"),
        ("rlhf_robotics/robotics/loop.py:5", "rlhf_robotics.ui"),
        ("rlhf_robotics/lm/dyn.py:2", "rlhf_robotics.robotics.loop"),
        ("rlhf_robotics/lm/sibling.py:1", "rlhf_robotics.ui.app.serve"),
        ("rlhf_robotics/ui/app.py:1", "omegaconf.OmegaConf"),
    }


def test_module_names_and_relative_imports_resolve_against_the_package(tmp_path: Path) -> None:
    write(tmp_path, "rlhf_robotics/preference/__init__.py", "from . import losses\nfrom .store import *\n")
    write(tmp_path, "rlhf_robotics/lm/rm.py", "from .model import GPT\nfrom ..preference import losses\n")
    write(tmp_path, "envs/hopper_backflip.py", "import hydra\n")
    init = tmp_path / "rlhf_robotics/preference/__init__.py"
    rm = tmp_path / "rlhf_robotics/lm/rm.py"
    assert module_name(init, tmp_path) == "rlhf_robotics.preference"
    assert module_name(rm, tmp_path) == "rlhf_robotics.lm.rm"
    assert module_name(tmp_path / "envs/hopper_backflip.py", tmp_path) == "rlhf_robotics.envs.hopper_backflip"
    assert [n for n, _ in imports_of(init, "rlhf_robotics.preference")] == [
        "rlhf_robotics.preference.losses", "rlhf_robotics.preference.store"]
    assert [n for n, _ in imports_of(rm, "rlhf_robotics.lm.rm")] == [
        "rlhf_robotics.lm.model.GPT", "rlhf_robotics.preference.losses"]
    # The environments ship inside the package, so the hydra rule covers them too.
    assert [(w, n) for w, n, _ in violations(tmp_path)] == [("envs/hopper_backflip.py:1", "hydra")]
