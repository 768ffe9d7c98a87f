"""``rlhf-robotics``: the console script.

``rlhf-robotics [overrides]`` runs a preference-learning experiment (the default subcommand, ``train``); any
other subcommand is the first argument: ``rlhf-robotics <command> [overrides]``. Every subcommand is a Hydra
app (:mod:`rlhf_robotics.cli.app`): the same ``key=value`` overrides, ``--help``, ``--cfg job``, exit code 2
with a message for a usage error. Each lives in a module under ``rlhf_robotics.cli`` with a
``main(argv: list[str]) -> int`` function, imported only when it is used.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("rlhf_robotics.cli.train", "run a preference-learning experiment (the default)"),
    "lm": ("rlhf_robotics.cli.lm", "the LM track: pipeline, one stage, table, export"),
    "label": ("rlhf_robotics.cli.label", "the labelling app over a run; token, export, stats"),
    "eval": ("rlhf_robotics.cli.evaluate", "evaluate a run's saved policy on the true objective, with a video"),
    "report": ("rlhf_robotics.cli.report", "aggregate a sweep into tables and figures"),
    "gallery": ("rlhf_robotics.cli.gallery", "a short clip of every suite task and a contact sheet"),
}
"""Subcommand name → (module defining ``main(argv)``, one-line summary). Add a line to add a command."""


def commands_text() -> str:
    """The subcommands with their summaries, for every help page."""
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  rlhf-robotics {name:<{width}}  {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "Commands (`rlhf-robotics <command> --help` for each):\n" + "\n".join(lines)


def entry(argv: list[str] | None = None) -> int:
    """Run the subcommand named by ``argv[0]`` (``train`` when it names none); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = "train"
    if argv and argv[0] in SUBCOMMANDS:
        name, argv = argv[0], argv[1:]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(argv) or 0)


if __name__ == "__main__":
    sys.exit(entry())
