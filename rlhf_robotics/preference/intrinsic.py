"""RUNE's exploration bonus (Liang et al. 2022, "Reward Uncertainty for Exploration in Preference-based
Reinforcement Learning", ICLR, eq. 3): r_total = r̂ + β_t · std_e(r̂_e), β_t = β₀(1 − ρ)^t — the policy is drawn
toward what the reward ensemble disagrees on, less and less as training goes on."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from rlhf_robotics.preference.ensemble import RewardEnsemble
from rlhf_robotics.preference.techniques import RUNEConfig

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


def rune_beta(beta0: float, decay: float, step: int) -> float:
    """β_t = β₀ (1 − ρ)^t at env step ``t``."""
    return beta0 * (1.0 - decay) ** step


def rune_bonus(member_rewards: ArrayT, beta: float) -> ArrayT:
    """β · std over members (population std) of per-member rewards ``(E, ...)`` → ``(...)``; a torch tensor or a
    NumPy array (e.g. :meth:`~rlhf_robotics.preference.ensemble.StackedStepReward.member_rewards` on the RL hot
    path) in, the same kind out."""
    if isinstance(member_rewards, np.ndarray):
        return beta * member_rewards.std(axis=0)  # type: ignore[return-value]
    return beta * member_rewards.std(0, unbiased=False)


@torch.no_grad()
def ensemble_bonus(ensemble: RewardEnsemble, x: torch.Tensor, config: RUNEConfig, step: int) -> torch.Tensor:
    """RUNE's bonus for a batch of step features ``x`` ``(N, D)`` → ``(N,)`` at env step ``step``: β_t times the
    std over members of their normalised rewards (the scale :meth:`RewardEnsemble.reward` is built from).

    Zero everywhere when ``config.enabled`` is false, so a wrapper may always add it.
    """
    if not config.enabled:
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    return rune_bonus(ensemble.normalised_outputs(x), rune_beta(config.beta0, config.decay, step))
