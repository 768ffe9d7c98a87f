"""Bradley–Terry preference losses as pure functions over tensors.

P(first ≻ second) = σ(s₁ − s₂) (Bradley & Terry 1952; Christiano et al. 2017, eq. 1), trained against soft
targets in [0, 1] (1 = first, 0 = second, 0.5 = tie) with binary cross-entropy; an optional margin m must be
won by the preferred side, whichever it is.
"""

from __future__ import annotations

import math

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
        margin: the preferred item must win by at least this much, whichever side it is on (TRL's
            ``margin``): P(first wins) = σ(Δ − m), P(second wins) = σ(−Δ − m), so the loss does not depend on
            which item was asked about first, and a tie still pulls s₁ − s₂ toward 0.
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
    delta = preference_logits(score_first, score_second)
    target = target.to(delta.dtype) * (1.0 - label_smoothing) + 0.5 * label_smoothing
    # log P(first wins) and log P(second wins); the margin counts against whichever side wins, so swapping the
    # pair (and target → 1 − target) leaves the loss unchanged. With margin 0 this is plain BCE-with-logits.
    log_p = F.logsigmoid(delta - margin)
    log_q = F.logsigmoid(-delta - margin)
    if noise > 0.0:
        # The noisy likelihood (1 − noise)·P + noise/2, in log space for stability (constants in delta's dtype).
        log_keep = torch.tensor(math.log1p(-noise), dtype=delta.dtype, device=delta.device)
        log_half_noise = torch.tensor(math.log(noise / 2), dtype=delta.dtype, device=delta.device)
        log_p = torch.logaddexp(log_keep + log_p, log_half_noise)
        log_q = torch.logaddexp(log_keep + log_q, log_half_noise)
    losses = -(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        return (losses * weight).sum(-1).mean() / weight.sum().clamp_min(1e-12)
    return losses.mean()


def preference_probability(score_first: torch.Tensor, score_second: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """P(first ≻ second) = σ(s₁ − s₂ − margin), elementwise."""
    return torch.sigmoid(preference_logits(score_first, score_second, margin))
