"""Temporal-crop augmentation of segment pairs (SURF, Park et al. 2022, §4.2): both segments of a pair are cut
to one random window, so the reward model learns from sub-segments the label still describes."""

from __future__ import annotations

import torch


def crop_window(length: int, crop_steps: int, gen: torch.Generator) -> tuple[int, int]:
    """A random ``(offset, window)`` inside ``length`` steps: ``window = length − c`` with ``c`` uniform in
    ``0 … crop_steps`` and ``offset`` uniform in ``0 … c``.

    Args:
        length: steps per segment, T.
        crop_steps: the most steps a crop removes; must be < ``length`` (a window keeps at least one step).
        gen: the torch generator the two draws come from.

    Raises:
        ValueError: if ``crop_steps`` is negative or leaves no step.
    """
    if not 0 <= crop_steps < length:
        raise ValueError(f"crop_steps={crop_steps}: must be >= 0 and < the segment length {length} (a crop keeps at "
                         f"least one step); lower crop_steps")
    cut = int(torch.randint(0, crop_steps + 1, (1,), generator=gen))
    offset = int(torch.randint(0, cut + 1, (1,), generator=gen))
    return offset, length - cut


def temporal_crop(segments: torch.Tensor, offset: int, window: int) -> torch.Tensor:
    """Steps ``offset … offset + window − 1`` of every segment: ``(B, T, D) → (B, window, D)``."""
    return segments[:, offset : offset + window]
