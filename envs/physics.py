"""Physics measurements shared by the tasks: contacts between named geoms, body uprightness, heights.

Pure functions of a MuJoCo ``(model, data)`` pair, so every rubric term is computed the same way in every task.
"""

from __future__ import annotations

from collections.abc import Iterable

import mujoco
import numpy as np


def geom_ids(model: mujoco.MjModel, names: Iterable[str]) -> frozenset[int]:
    """Ids of the named geoms; raises ``ValueError`` naming a geom the model lacks."""
    ids = []
    for name in names:
        gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
        if gid < 0:
            known = [model.geom(i).name for i in range(model.ngeom)]
            raise ValueError(f"geom {name!r} is not in the model; its named geoms are {known}")
        ids.append(gid)
    return frozenset(ids)


def body_id(model: mujoco.MjModel, name: str) -> int:
    """Id of the named body; raises ``ValueError`` naming a body the model lacks."""
    bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    if bid < 0:
        known = [model.body(i).name for i in range(model.nbody)]
        raise ValueError(f"body {name!r} is not in the model; its bodies are {known}")
    return bid


def touching(data: mujoco.MjData, group_a: frozenset[int], group_b: frozenset[int]) -> bool:
    """Whether any geom of ``group_a`` is in contact with any geom of ``group_b`` now."""
    for i in range(data.ncon):
        c = data.contact[i]
        g1, g2 = int(c.geom1), int(c.geom2)
        if (g1 in group_a and g2 in group_b) or (g2 in group_a and g1 in group_b):
            return True
    return False


def upright(data: mujoco.MjData, body: int) -> float:
    """Cosine between the body's local z axis and world z: 1 upright, 0 on its side, -1 upside down."""
    return float(data.xmat[body][8])


def actuator_power(data: mujoco.MjData) -> float:
    """Mechanical power Σ |τ · q̇| over the actuators (W in model units)."""
    return float(np.sum(np.abs(data.actuator_force * data.actuator_velocity)))


class GaitTracker:
    """Episode bookkeeping of the walking tasks: the action change behind their smoothness cost, and the running
    statistics their success check reads (never fallen, mean forward speed, mean uprightness)."""

    def __init__(self, action_size: int) -> None:
        self.action_size = action_size
        self.reset()

    def reset(self) -> None:
        self.last_action = np.zeros(self.action_size)
        self.steps, self.distance, self.upright_sum, self.ever_fallen = 0, 0.0, 0.0, False

    def update(self, action: np.ndarray, x_velocity: float, upright: float, fallen: bool, dt: float) -> float:
        """Record one step; returns the squared change of the action since the previous step."""
        action = np.asarray(action, dtype=np.float64)
        change = float(np.sum(np.square(action - self.last_action)))
        self.last_action = action.copy()
        self.steps += 1
        self.distance += x_velocity * dt
        self.upright_sum += upright
        self.ever_fallen |= fallen
        return change

    def success(self, dt: float, min_speed: float, min_upright: float) -> bool:
        """Never fallen, and over the episode so far mean speed ≥ ``min_speed`` and mean uprightness ≥ ``min_upright``."""
        return (
            not self.ever_fallen
            and self.distance / (self.steps * dt) >= min_speed
            and self.upright_sum / self.steps >= min_upright
        )
