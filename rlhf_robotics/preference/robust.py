"""RIME's trust bound on labels (Cheng et al. 2024, "RIME: Robust Preference-based Reinforcement Learning with
Noisy Preferences", ICML, §4.1): before each epoch every label's loss ℓ = −Σ y·ln P (the KL divergence from the
one-hot label to the predicted preference) is compared with

    τ = −ln ρ + α·ρ + min(β_t·σ, cap)        (lower bound of a clean label's loss + decaying uncertainty term)

where ρ is the running maximum loss of the labels trusted so far and σ their std: ℓ < τ is trusted, ℓ > −ln η is
flipped (the model is nearly sure the annotator slipped), anything else sits out the epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rlhf_robotics.preference.techniques import RIMEConfig

_EMA = 0.1
"""Rate of RIME's running maximum ρ (its ``RunningMeanStd(mode='fixed', lr=0.1)``)."""


def label_losses(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(B,)`` loss of each label, −t·ln σ(x) − (1 − t)·ln σ(−x) (plain Bradley–Terry: no noise, margin or
    smoothing), which RIME calls the KL divergence between label and prediction."""
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")


def rime_beta(config: RIMEConfig, filtered_epochs: int) -> float:
    """β_t = max(β_min, β_init − (β_init − β_min)·t / k) after ``t`` filtered epochs (RIME's linear decay)."""
    slope = (config.beta_init - config.beta_min) / config.beta_decay_epochs
    return max(config.beta_min, config.beta_init - slope * filtered_epochs)


def trust_bound(rho: float, sigma: float, beta: float, alpha: float, max_uncertainty: float) -> float:
    """RIME's τ = −ln ρ + α·ρ + min(β·σ, cap) (ρ floored at 1e-8, as in RIME's code)."""
    return -math.log(rho + 1e-8) + alpha * rho + min(beta * sigma, max_uncertainty)


@dataclass
class TrustFilter:
    """RIME's running statistics for one member's fit, and the per-epoch decision."""

    config: RIMEConfig
    rho: float = 0.0
    """Running maximum loss of trusted labels (exponential average, rate 0.1; 0 before any)."""
    sigma: float = 0.0
    """Std of the trusted labels' losses in the latest epoch."""
    epochs_seen: int = 0
    """Epochs this filter has been consulted (warm-start epochs included)."""

    def update(self, trusted_losses: torch.Tensor) -> None:
        """Fold the losses of the labels trusted this epoch into ρ and σ."""
        if len(trusted_losses):
            self.rho += (float(trusted_losses.max()) - self.rho) * _EMA
            self.sigma = float(trusted_losses.std(unbiased=False))

    def bound(self) -> float:
        """The current trust bound τ."""
        filtered = max(self.epochs_seen - self.config.warmup_epochs, 0)
        c = self.config
        return trust_bound(self.rho, self.sigma, rime_beta(c, filtered), c.alpha, c.max_uncertainty)

    def split(self, losses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decide this epoch's ``(trusted, flipped)`` boolean masks over labels with these ``losses`` ``(B,)``, and
        update the statistics. During the warm start every label is trusted and none flipped."""
        if self.epochs_seen < self.config.warmup_epochs:
            trusted = torch.ones_like(losses, dtype=torch.bool)
            flipped = torch.zeros_like(trusted)
        else:
            trusted = losses < self.bound()
            eta = self.config.flip_probability
            flipped = (losses > -math.log(eta)) & ~trusted if eta > 0 else torch.zeros_like(trusted)
        self.update(losses[trusted])
        self.epochs_seen += 1
        return trusted, flipped
