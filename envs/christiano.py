"""Any Gymnasium task in the setup of Christiano et al. (2017, §3.1 and App. A): a fixed horizon, with termination
replaced by a penalty, and control costs removed from the objective.

```python
from rlhf_robotics.envs import make_christiano

env = make_christiano("Hopper-v5")  # 1000 steps every episode; falling costs 1 per step; no ctrl cost
```

How each change is made, preferring the environment's own switches:

* **Control costs.** If the environment's constructor takes ``ctrl_cost_weight`` (Hopper, Walker2d,
  HalfCheetah, Ant, Humanoid, Swimmer, …) or ``reward_control_weight`` (Reacher, Pusher), it is set to 0.
  Otherwise the wrapper subtracts ``info["reward_ctrl"]`` from the reward when that term exists.
* **Termination.** If the constructor takes ``terminate_when_unhealthy``, it is set to False and the wrapper
  charges ``termination_penalty`` on every step where ``env.unwrapped.is_healthy`` is false, i.e. every step the
  original task would have ended on. Otherwise (InvertedPendulum, InvertedDoublePendulum) a termination is
  charged ``termination_penalty`` once and the inner environment is reset in place, so the outer episode goes
  on; ``info["christiano_reset"]`` marks that step.
* **Horizon.** The registered time limit (or ``horizon``) is applied outside the wrapper, so every episode has
  exactly that many steps.

The penalty charged on a step is in ``info["reward_termination"]``; ``info["reward_ctrl_removed"]`` holds the
control cost taken out (0 when the env's own weight was set to 0).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator
from gymnasium.wrappers import TimeLimit

_CTRL_KWARGS = ("ctrl_cost_weight", "reward_control_weight")


class ChristianoStyle(gym.Wrapper):
    """Fixed-horizon, control-cost-free view of a task; see the module docstring for the rules.

    Args:
        env: the environment, *without* a time limit (apply ``TimeLimit`` outside this wrapper).
        termination_penalty: reward subtracted for each step the original task would have terminated on.
        remove_ctrl_from_info: subtract ``info["reward_ctrl"]`` from the reward (when the env's own control
            weight could not be set to 0).
        unhealthy_penalty_per_step: the env runs with ``terminate_when_unhealthy=False``; charge the penalty
            on every unhealthy step instead of resetting on termination.
    """

    def __init__(
        self,
        env: gym.Env,
        termination_penalty: float = 1.0,
        remove_ctrl_from_info: bool = False,
        unhealthy_penalty_per_step: bool = False,
    ) -> None:
        super().__init__(env)
        if termination_penalty < 0:
            raise ValueError(f"termination_penalty is subtracted, so pass it >= 0; got {termination_penalty}")
        self.termination_penalty = termination_penalty
        self.remove_ctrl_from_info = remove_ctrl_from_info
        self.unhealthy_penalty_per_step = unhealthy_penalty_per_step

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward)
        removed = 0.0
        if self.remove_ctrl_from_info and "reward_ctrl" in info:
            removed = float(info["reward_ctrl"])
            reward -= removed
        penalty = 0.0
        if self.unhealthy_penalty_per_step and not self.env.unwrapped.is_healthy:  # type: ignore[attr-defined]
            penalty = self.termination_penalty
        if terminated:
            penalty = self.termination_penalty
            obs, _ = self.env.reset()
            terminated = False
            info = {**info, "christiano_reset": True}
        info = {**info, "reward_termination": -penalty, "reward_ctrl_removed": removed}
        return obs, reward - penalty, terminated, truncated, info


def make_christiano(
    env_id: str,
    horizon: int | None = None,
    termination_penalty: float = 1.0,
    **kwargs: Any,
) -> gym.Env:
    """Make ``env_id`` as in Christiano et al. (2017): fixed horizon, termination → penalty, no control cost.

    Args:
        env_id: any registered Gymnasium id (``"Hopper-v5"``, ``"rlhf_robotics/AntUprightWalk-v0"``, …).
        horizon: steps per episode; default: the registered ``max_episode_steps``.
        termination_penalty: reward subtracted on each step the original task would have terminated on.
        **kwargs: constructor arguments for the environment (``render_mode``, weights, …); explicit
            ``ctrl_cost_weight``/``reward_control_weight``/``terminate_when_unhealthy`` win over ours.

    Returns:
        The wrapped environment, ``TimeLimit(ChristianoStyle(env))``.
    """
    spec = gym.spec(env_id)
    steps = horizon if horizon is not None else spec.max_episode_steps
    if steps is None or steps <= 0:
        raise ValueError(
            f"{env_id} has no registered time limit and horizon={horizon}; pass horizon=<steps per episode>"
        )
    if spec.entry_point is None:
        raise ValueError(f"{env_id} is registered without an entry point; register it with one")
    creator = spec.entry_point if callable(spec.entry_point) else load_env_creator(spec.entry_point)
    try:
        params: Mapping[str, inspect.Parameter] = inspect.signature(creator).parameters
    except (TypeError, ValueError):
        params = {}
    settings: dict[str, Any] = {}
    own_ctrl = [k for k in _CTRL_KWARGS if k in params]
    for name in own_ctrl:
        settings[name] = 0.0
    has_health = "terminate_when_unhealthy" in params
    if has_health:
        settings["terminate_when_unhealthy"] = False
    settings.update(kwargs)
    # max_episode_steps=None would fall back to the spec's limit; build the bare env and apply ours outside.
    env = gym.make(env_id, disable_env_checker=True, **settings).unwrapped
    wrapped = ChristianoStyle(
        env,
        termination_penalty=termination_penalty,
        remove_ctrl_from_info=not own_ctrl,
        unhealthy_penalty_per_step=has_health and not settings["terminate_when_unhealthy"]
        and hasattr(env, "is_healthy"),
    )
    return TimeLimit(wrapped, max_episode_steps=int(steps))


