"""Bradley–Terry preference losses as pure functions over tensors.

P(first ≻ second) = σ(s₁ − s₂ − m) (Bradley & Terry 1952; Christiano et al. 2017, eq. 1), trained against soft
targets in [0, 1] (1 = first, 0 = second, 0.5 = tie) with binary cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def preference_logits(score_first: torch.Tensor, score_second: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Logit of P(first ≻ second): ``s₁ − s₂ − margin``. Any broadcastable shapes."""
    return score_first - score_second - margin


def bradley_terry_loss(
    score_first: torch.Tensor,
    score_second: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 0.0,
    noise: float = 0.0,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Bradley–Terry cross-entropy with soft targets.

    Args:
        score_first: ``(..., B)`` scores (summed rewards) of the first items.
        score_second: ``(..., B)`` scores of the second items.
        target: ``(B,)`` P(first ≻ second) per pair: 1, 0 or 0.5 for a tie (any value in [0, 1]).
        margin: subtracted from the score difference, so a preference must be won by at least this much
            (TRL's ``margin``; a tie with a margin pulls s₁ − s₂ toward ``margin``).
        noise: probability that the labeller answered uniformly at random, built into the likelihood:
            P = (1 − noise)·σ(Δ) + noise/2 (Christiano et al. 2017, §2.2.3, used 0.1).
        label_smoothing: targets are pulled toward 0.5: t ← t·(1 − ε) + ε/2.
        weight: optional ``(B,)`` per-pair weight; the result is the weighted mean.

    Returns:
        The scalar mean loss (over every leading dimension too, e.g. ensemble members).
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = preference_logits(score_first, score_second, margin)
    target = target.to(logits.dtype) * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if noise == 0.0:
        losses = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits), reduction="none")
    else:
        # log P and log(1 − P) of the noisy likelihood, computed in log space for stability.
        log_p = torch.logaddexp(torch.log1p(torch.tensor(-noise)) + F.logsigmoid(logits), torch.log(torch.tensor(noise / 2)))
        log_q = torch.logaddexp(torch.log1p(torch.tensor(-noise)) + F.logsigmoid(-logits), torch.log(torch.tensor(noise / 2)))
        losses = -(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        return (losses * weight).sum(-1).mean() / weight.sum().clamp_min(1e-12)
    return losses.mean()


def preference_probability(score_first: torch.Tensor, score_second: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """P(first ≻ second) = σ(s₁ − s₂ − margin), elementwise."""
    return torch.sigmoid(preference_logits(score_first, score_second, margin))
