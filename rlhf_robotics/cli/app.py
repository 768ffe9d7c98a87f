"""How every subcommand runs: a Hydra app over the configs shipped in the package, with one set of conventions.

A subcommand is an :class:`App`: a primary config under ``conf/`` (shipped as the package
``rlhf_robotics.conf``, read through Hydra's ``pkg://`` search path, so a wheel and a checkout behave alike)
and a task function taking the composed ``DictConfig``. :func:`run_app` gives all of them the same behaviour:

- Hydra's flags (``--help``, ``--cfg job``, ``-m``, ``--shell-completion``, ``key=value`` overrides);
- a help page titled with the command, listing only the command's own config groups and every subcommand;
- errors a user can fix (:class:`~rlhf_robotics.typed_config.ConfigError`, :class:`UsageError`, a config Hydra
  cannot compose) end with ``error: <message>`` on stderr and exit code 2, never a traceback;
- a single run creates nothing by itself (``hydra.run.dir`` is the current folder and ``.hydra/`` is written only
  for sweep jobs), so a command rejected by validation leaves no folder behind.

Adding a subcommand is one module with a task function and an ``APP``, one YAML file, and one line in
:data:`rlhf_robotics.cli.main.SUBCOMMANDS`.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.typed_config import ConfigError

CONF_PACKAGE = "rlhf_robotics.conf"
"""The package holding ``conf/`` (mapped from the repository's top-level ``conf/`` in pyproject.toml)."""


class UsageError(Exception):
    """A command line that cannot work as given (a missing file, a busy port, a missing extra)."""


EXTRAS: dict[str, tuple[str, ...]] = {
    "ui": ("starlette", "uvicorn", "jinja2"),
    "lm": ("transformers",),
}
"""Optional dependency group → modules it installs (``pip install 'rlhf_robotics[<extra>]'``)."""


def require_extra(extra: str, what: str, modules: Iterable[str] | None = None) -> None:
    """Raise :class:`UsageError` naming ``extra`` and its install line when one of its modules is missing.

    Args:
        extra: the optional dependency group in pyproject.toml (``ui``, ``lm``, ``sweep``).
        what: what needs it, for the message (``"rlhf-robotics label"``).
        modules: modules to look for; default: the extra's list in :data:`EXTRAS`.
    """
    for module in modules if modules is not None else EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(
                f"{what} needs the {extra!r} extra ({module} is not installed); "
                f"install it with: pip install 'rlhf_robotics[{extra}]'"
            )


def typed(cls: type[Any], cfg: DictConfig) -> Any:
    """The typed settings ``cls`` of a composed config, checked at the edge (an unknown key or a bad value raises
    :class:`~rlhf_robotics.typed_config.ConfigError` naming it)."""
    from rlhf_robotics.typed_config import from_mapping

    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    return from_mapping(cls, {str(k): v for k, v in data.items()})


def conf_dir(package: str = CONF_PACKAGE) -> Path:
    """The folder of the configs on disk: the live ``conf/`` in a checkout (editable install), the installed
    copy in a wheel."""
    path = Path(str(resources.files(package)))  # a wheel is installed unzipped: a real folder
    if not path.is_dir():
        raise FileNotFoundError(f"no configs at {path}; reinstall rlhf_robotics (pip install .)")
    return path


def config_groups(root: Path, exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """Config group → its options under ``root`` (nested groups as ``a/b``), without ``hydra`` and ``exclude``."""
    skip = {"hydra", *exclude}
    groups: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and "__pycache__" not in p.parts):
        name = folder.relative_to(root).as_posix()
        if name.split("/")[0] in skip:
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            groups[name] = options
    return groups


def _multirun_only(value: Any, mode: Any) -> Any:
    """Resolver ``${rlhf_multirun_only:.hydra,${hydra.mode}}``: ``value`` for sweep jobs, else ``None``."""
    return value if str(mode).endswith("MULTIRUN") else None


def register_resolvers() -> None:
    """Resolvers the primary configs use (idempotent; sweep workers import this module, so they have them)."""
    if not OmegaConf.has_resolver("rlhf_multirun_only"):
        OmegaConf.register_new_resolver("rlhf_multirun_only", _multirun_only)


register_resolvers()


@dataclass(frozen=True)
class App:
    """One subcommand as a Hydra app."""

    command: str
    """How it is called after ``rlhf-robotics`` (``"label export"``); the help and errors name it."""
    config_name: str
    """Primary config, relative to the search root (``"config"``, ``"export"``)."""
    task: Callable[[DictConfig], Any]
    """Runs the command on the composed config; returns a value for sweepers or nothing."""
    summary: str
    """One line for the top of the help page."""
    usage: str = ""
    """Example command lines, one per line, for the help page."""
    conf_subdir: str = ""
    """Folder under ``conf/`` that is the search root: ``""`` (``pkg://rlhf_robotics.conf``) for the robotics
    commands; ``"lm"`` gives the LM track its own groups (its ``ppo`` is not training's ``ppo``)."""
    groups: tuple[str, ...] | None = ()
    """Config groups the help lists: ``None`` for every group under the root except those in
    :data:`OTHER_ROOTS` (they belong to other commands)."""

    def config_path(self) -> str:
        """Hydra's ``config_path`` for this app."""
        if not self.conf_subdir:
            return f"pkg://{CONF_PACKAGE}"
        return str(conf_dir() / self.conf_subdir)


OTHER_ROOTS = ("lm", "label")
"""Folders of ``conf/`` that are search roots of their own commands, not groups of ``train``."""


def help_text(app: App, overrides: list[str]) -> str:
    """The help page of ``app``: what it does, examples, its groups, its composed config, every subcommand."""
    from hydra import compose, initialize_config_dir

    from rlhf_robotics.cli.main import commands_text

    root = conf_dir() / app.conf_subdir
    groups = config_groups(root, OTHER_ROOTS if app.groups is None else ())
    if app.groups is not None:
        groups = {g: o for g, o in groups.items() if g.split("/")[0] in app.groups}
    with initialize_config_dir(config_dir=str(root), version_base="1.3"):
        cfg = compose(config_name=app.config_name, overrides=overrides)
    parts = [f"rlhf-robotics {app.command}: {app.summary}"]
    if app.usage:
        parts.append("Usage:\n" + "\n".join(f"  {line}" for line in app.usage.strip().splitlines()))
    if groups:
        width = max(map(len, groups))
        parts.append("Config groups (choose with group=option; experiment/ and sweep/ overlays with +group=option):\n"
                     + "\n".join(f"  {g:<{width}}  {', '.join(o)}" for g, o in groups.items()))
    parts.append("Settings (change with key=value; `--cfg job` prints them after overrides):\n"
                 + "\n".join(f"  {line}" for line in OmegaConf.to_yaml(cfg).rstrip().splitlines()))
    parts.append("Hydra flags: --cfg job|hydra|all, -m/--multirun (sweeps), --shell-completion, --info, "
                 "--hydra-help.\nErrors a user can fix exit with code 2 and one line starting with 'error:'.")
    parts.append(commands_text())
    return "\n\n".join(parts) + "\n"


def fail(message: str) -> None:
    """Print ``error: message`` and exit with code 2 (a usage or configuration error)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_app(app: App, argv: list[str]) -> int:
    """Run ``app`` on command-line arguments ``argv`` (Hydra flags and overrides); returns the exit code.

    Exit codes: 0 done, 2 a usage or configuration error (message on stderr, nothing created), 1 a failure
    while the command ran (Hydra prints it).
    """
    started = False

    @functools.wraps(app.task)
    def task(cfg: DictConfig) -> Any:
        nonlocal started
        started = True
        try:
            return app.task(cfg)
        except (ConfigError, UsageError) as err:
            fail(str(err))

    if "--help" in argv or "-h" in argv:
        overrides = [a for a in argv if not a.startswith("-")]
        try:
            print(help_text(app, overrides), end="")
        except Exception as err:  # a bad override: say so, as a run would
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    import hydra

    saved = sys.argv
    sys.argv = [f"rlhf-robotics {app.command}", *argv]
    try:
        hydra.main(version_base="1.3", config_path=app.config_path(), config_name=app.config_name)(task)()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if code == 1 and not started:
            return 2  # Hydra could not compose the config: a usage error (Hydra printed the message)
        return code
    finally:
        sys.argv = saved
    return 0
