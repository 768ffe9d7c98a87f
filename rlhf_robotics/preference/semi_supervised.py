"""SURF's pseudo-labels (Park et al. 2022, "SURF: Semi-supervised Reward Learning with Data Augmentation for
Feedback-efficient Preference-based Reinforcement Learning", ICLR, eq. 4–5): an unlabelled pair whose predicted
preference is confident (max(P, 1 − P) > τ) is labelled with the prediction, and trained on with weight λ."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pseudo_labels(logits: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted answer of each pair and whether it is confident enough to train on.

    Args:
        logits: ``(B,)`` logits of P(first ≻ second).
        threshold: τ in (0.5, 1).

    Returns:
        ``(target, mask)``: ``target`` 1.0 where P > 0.5 (first), else 0.0; ``mask`` True where max(P, 1 − P) > τ.
    """
    p = torch.sigmoid(logits)
    target = (p > 0.5).to(logits.dtype)
    mask = torch.maximum(p, 1.0 - p) > threshold
    return target, mask


def pseudo_label_loss(logits: torch.Tensor, logits_for_labels: torch.Tensor, threshold: float) -> torch.Tensor:
    """SURF's unlabelled loss: the mean over all ``B`` pairs of mask · BCE(logits, pseudo-label).

    Args:
        logits: ``(B,)`` logits the gradient flows through (of the augmented, e.g. cropped, pairs).
        logits_for_labels: ``(B,)`` logits the pseudo-labels are read from (the un-augmented pairs; detached here).
        threshold: τ in (0.5, 1).

    Returns:
        The scalar loss; pairs below the threshold count as zeros in the mean, as in SURF's code.
    """
    target, mask = pseudo_labels(logits_for_labels.detach(), threshold)
    losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (losses * mask.to(losses.dtype)).mean()
