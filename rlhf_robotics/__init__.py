"""rlhf_robotics: reinforcement learning from human feedback in MuJoCo, with an LM track on the same core.

Importing the package (which every entry point does first: the CLI, the Python API, the tests, the render
workers) chooses MuJoCo's OpenGL backend before MuJoCo is imported anywhere: on a Linux machine with no
display, ``MUJOCO_GL=egl`` (headless rendering through Mesa or a GPU driver). MuJoCo reads the variable once,
when it is first imported, so a machine without a display that imported ``mujoco`` before this package could
not render; a value the user set is never changed.
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"


def _choose_gl_backend() -> None:
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules or not sys.platform.startswith("linux"):
        return
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"


_choose_gl_backend()
