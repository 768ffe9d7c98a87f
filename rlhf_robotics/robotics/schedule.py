"""When and how much to ask: segment length from simulated seconds and the label schedule over rounds."""

from __future__ import annotations

import numpy as np


def segment_length(dt: float, seconds: float, steps: int | None, low: int, high: int) -> int:
    """Steps per segment: ``steps`` if given, else ``round(seconds / dt)`` clipped to ``[low, high]``."""
    if steps is not None:
        if steps < 1:
            raise ValueError(f"env.segment_steps must be >= 1, got {steps}")
        return steps
    if seconds <= 0:
        raise ValueError(f"env.segment_seconds must be > 0, got {seconds}")
    return int(np.clip(round(seconds / dt), low, high))


def label_schedule(total: int, initial_fraction: float, rounds: int, total_steps: int, timescale: float) -> list[int]:
    """Labels asked in round 0 (initial policy) and in each of ``rounds`` later rounds; sums to ``total``.

    Later rounds get labels ∝ τ/(T_r + τ), T_r the env steps at the start of round r and τ = timescale ×
    total_steps: Christiano et al.'s rate 2·10⁶/(T + 2·10⁶) rescaled to the run. Rounded by largest remainder.
    """
    initial = int(round(total * initial_fraction))
    rest = total - initial
    starts = np.arange(rounds) * total_steps / rounds
    tau = max(timescale * total_steps, 1e-9)
    weights = tau / (starts + tau)
    raw = rest * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: rest - counts.sum()]:
        counts[i] += 1
    return [initial, *counts.tolist()]


