"""REED's self-predictive reward features (Metcalf et al. 2024, "Sample-Efficient Preference-based Reinforcement
Learning with Dynamics Aware Rewards", CoRL): the reward network's state-action encoder learns, from transitions
alone, a latent that predicts the next step's latent (SimSiam-style, Chen & He 2021: a projector and a predictor,
negative cosine similarity, stop-gradient on the target). The Bradley–Terry fit on the labels then starts from
features that already encode the dynamics.

The encoder of a :class:`~rlhf_robotics.preference.ensemble.StepRewardMLP` is every layer but the last
(:meth:`~rlhf_robotics.preference.ensemble.StepRewardMLP.encode`); the next step's latent is the encoder's
output for the next step's features (its observation and action), so no new input layout is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rlhf_robotics.preference.ensemble import RewardEnsemble, StepRewardMLP
from rlhf_robotics.preference.techniques import REEDConfig


class SelfPredictiveHead(nn.Module):
    """Projector (encoder width → latent) and predictor (latent → latent, one hidden layer) of one member."""

    def __init__(self, width: int, latent_dim: int) -> None:
        super().__init__()
        self.projector = nn.Linear(width, latent_dim)
        self.predictor = nn.Sequential(nn.Linear(latent_dim, latent_dim), nn.ReLU(), nn.Linear(latent_dim, latent_dim))


def consecutive_steps(transitions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, T, D)`` runs of consecutive steps → ``(N·(T−1), D)`` steps and ``(N·(T−1), D)`` their next steps."""
    if transitions.dim() != 3 or transitions.shape[1] < 2:
        raise ValueError(f"transitions must be (N, T, D) runs of consecutive steps with T >= 2, got shape "
                         f"{tuple(transitions.shape)}")
    d = transitions.shape[-1]
    return transitions[:, :-1].reshape(-1, d), transitions[:, 1:].reshape(-1, d)


def self_predictive_loss(member: StepRewardMLP, head: SelfPredictiveHead, x: torch.Tensor,
                         x_next: torch.Tensor) -> torch.Tensor:
    """Mean negative cosine similarity between the predicted and the (stop-gradient) next latent; in [−1, 1]."""
    predicted = head.predictor(head.projector(member.encode(x)))
    with torch.no_grad():
        target = head.projector(member.encode(x_next))
    return -F.cosine_similarity(predicted, target, dim=-1).mean()


def _members(ensemble: RewardEnsemble) -> list[StepRewardMLP]:
    members = [m for m in ensemble.members if isinstance(m, StepRewardMLP)]
    if len(members) != ensemble.size:
        raise TypeError("REED's self-predictive pre-training needs StepRewardMLP members (per-step rewards); "
                        "turn techniques.reed off for other reward models")
    return members


@dataclass
class SelfPredictiveMetrics:
    """What one pre-training did; logged by the caller under ``reward_model/reed_*``."""

    loss_before: float
    """Mean over members of the self-predictive loss before pre-training."""
    loss_after: float
    """The same after pre-training."""


class SelfPredictive:
    """The projector/predictor heads of every member, kept between pre-trainings so REED can keep training the
    encoder between rounds.

    Args:
        ensemble: the reward ensemble whose members' encoders are trained in place.
        config: REED's settings.
        seed: initialises the heads.
    """

    def __init__(self, ensemble: RewardEnsemble, config: REEDConfig, seed: int) -> None:
        self.config = config
        members = _members(ensemble)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.heads = [SelfPredictiveHead(m.encoder_width, config.latent_dim) for m in members]

    @torch.no_grad()
    def loss(self, ensemble: RewardEnsemble, transitions: torch.Tensor) -> float:
        """Mean over members of the self-predictive loss on ``transitions`` ``(N, T, D)``."""
        x, x_next = consecutive_steps(transitions)
        losses = [self_predictive_loss(m, h.to(x.device), x, x_next) for m, h in zip(_members(ensemble), self.heads)]
        return float(torch.stack(losses).mean())

    def train(self, ensemble: RewardEnsemble, transitions: torch.Tensor, gen: torch.Generator) -> SelfPredictiveMetrics:
        """Train each member's encoder (and its head) on ``transitions`` ``(N, T, D)`` for ``config.epochs``.

        Minibatch order comes from ``gen`` only. The members' last layers (the reward heads) are not touched.
        """
        x, x_next = consecutive_steps(transitions)
        before = self.loss(ensemble, transitions)
        for member, head in zip(_members(ensemble), self.heads):
            head.to(x.device)
            encoder = member.net[:-1]
            params = list(encoder.parameters()) + list(head.parameters())
            opt = torch.optim.Adam(params, lr=self.config.lr)
            member.eval()  # dropout off: it would draw from torch's global generator
            for _ in range(self.config.epochs):
                order = torch.randperm(len(x), generator=gen).to(x.device)
                for start in range(0, len(order), self.config.batch_size):
                    mb = order[start : start + self.config.batch_size]
                    loss = self_predictive_loss(member, head, x[mb], x_next[mb])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
        after = self.loss(ensemble, transitions)
        return SelfPredictiveMetrics(loss_before=before, loss_after=after)
