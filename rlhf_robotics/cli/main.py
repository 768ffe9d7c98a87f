"""``rlhf-robotics``: the console script.

``rlhf-robotics [hydra overrides]`` runs a preference-learning experiment (the default subcommand,
``train``). Other subcommands are the first argument: ``rlhf-robotics <name> [args]``. Each subcommand is a
module under ``rlhf_robotics.cli`` with a ``main(argv: list[str]) -> int | None`` function, imported only when
it is used.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, str] = {
    "train": "rlhf_robotics.cli.train",
    "lm": "rlhf_robotics.cli.lm",
    "label": "rlhf_robotics.cli.label",
    "report": "rlhf_robotics.cli.report",
    "gallery": "rlhf_robotics.cli.gallery",
}
"""Subcommand name → module that defines ``main(argv)``. Add a line to add a command."""


def entry(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv[0] if argv and argv[0] in SUBCOMMANDS else "train"
    if argv and argv[0] in SUBCOMMANDS:
        argv = argv[1:]
    elif argv and argv[0] in ("-h", "--help-commands"):
        print("subcommands: " + ", ".join(SUBCOMMANDS) + " (default: train, which takes Hydra overrides)")
        return 0
    module = importlib.import_module(SUBCOMMANDS[name])
    return int(module.main(argv) or 0)


if __name__ == "__main__":
    sys.exit(entry())
