from __future__ import annotations

import rlhf_robotics.envs  # noqa: F401  (registers the suite's tasks)
