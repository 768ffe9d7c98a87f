"""Scripted controllers of the suite's tests (``tests/envs`` is on ``sys.path`` under pytest): Jacobian-transpose
control of a body towards a target, a minimum-jerk reach for the Reacher and an approach-and-push for the Pusher.
Each takes the unwrapped env and the step index and returns the action."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np


def jacobian_transpose(u: Any, body: str, target: np.ndarray, kp: float, kd: float, dofs: slice) -> np.ndarray:
    """Joint torques ``kp · Jᵀ (target − body) − kd · q̇`` over ``dofs`` (the body's centre of mass)."""
    jacp = np.zeros((3, u.model.nv))
    mujoco.mj_jacBodyCom(u.model, u.data, jacp, None, u.model.body(body).id)
    error = target - u.data.body(body).xipos
    return kp * jacp[:, dofs].T @ error - kd * u.data.qvel[dofs]


def min_jerk_reach(u: Any, t: int) -> np.ndarray:
    """Reacher: track a minimum-jerk path (Flash & Hogan 1985) from the start to the target in 0.6 s."""
    if t == 0:
        u.start = u.get_body_com("fingertip").copy()
    tau = min(1.0, (t + 1) * u.dt / 0.6)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    target = u.start + (u.get_body_com("target") - u.start) * s
    return np.clip(jacobian_transpose(u, "fingertip", target, 300.0, 0.3, slice(0, 2)), -1, 1)


def push(u: Any, t: int) -> np.ndarray:
    """Pusher: go behind the object, then push it towards the goal."""
    obj, goal, tip = u.get_body_com("object"), u.get_body_com("goal"), u.get_body_com("tips_arm")
    direction = goal - obj
    direction[2] = 0
    direction /= np.linalg.norm(direction) + 1e-9
    behind = obj - 0.12 * direction
    target = behind if np.linalg.norm((tip - behind)[:2]) > 0.03 else obj + 0.05 * direction
    target = np.array([target[0], target[1], obj[2]])
    return np.clip(jacobian_transpose(u, "tips_arm", target, 20.0, 1.0, slice(0, 7)), -2, 2)
