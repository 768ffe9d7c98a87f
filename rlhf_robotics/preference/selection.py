"""Query selection: which candidate pairs are worth a label.

Every rule scores candidates from the ensemble's preference logits ``(E, C)`` (member e's logit of
P(first ≻ second) for candidate c); :func:`select` keeps the ``n`` best. Christiano et al. (2017) sampled 10×
more candidates than needed and kept those with the highest disagreement; their ablations found it sometimes
hurts, so ``uniform`` is always available.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np

Selector = Literal["uniform", "disagreement", "entropy", "logit_variance"]
SELECTORS: tuple[str, ...] = get_args(Selector)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def disagreement(logits: np.ndarray) -> np.ndarray:
    """Std over members of P(first ≻ second) (B-Pref's ``disagreement``)."""
    return _sigmoid(logits).std(axis=0)


def entropy(logits: np.ndarray) -> np.ndarray:
    """Binary entropy (nats) of the member-mean P(first ≻ second)."""
    p = np.clip(_sigmoid(logits).mean(axis=0), 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def logit_variance(logits: np.ndarray) -> np.ndarray:
    """Variance over members of the preference logit."""
    return logits.var(axis=0)


def uniform(logits: np.ndarray) -> np.ndarray:
    """All candidates equal; :func:`select` then picks at random."""
    return np.zeros(logits.shape[-1])


SCORE_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "uniform": uniform,
    "disagreement": disagreement,
    "entropy": entropy,
    "logit_variance": logit_variance,
}


def check_selector(name: str) -> Selector:
    if name not in SCORE_FUNCTIONS:
        raise ValueError(f"unknown selection {name!r}; expected one of {', '.join(SELECTORS)}")
    return name  # type: ignore[return-value]


def candidate_count(n: int, oversampling: float, selector: str) -> int:
    """How many candidate pairs to draw for ``n`` queries: ``n`` for uniform, ``ceil(n·oversampling)`` else."""
    if oversampling < 1:
        raise ValueError(f"oversampling must be >= 1, got {oversampling}")
    return n if selector == "uniform" else int(np.ceil(n * oversampling))


def select(logits: np.ndarray, n: int, selector: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n`` highest-scoring candidates (random order among equal scores) and all scores.

    Args:
        logits: ``(E, C)`` member logits of P(first ≻ second), or ``(C,)`` for a single model.
        n: how many to keep (at most C).
        selector: one of :data:`SELECTORS`.
        rng: breaks ties between equal scores (and so does all the work for ``uniform``).

    Returns:
        ``(chosen (n,), scores (C,))``.
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    scores = SCORE_FUNCTIONS[check_selector(selector)](logits)
    n = min(n, scores.shape[0])
    jitter = np.asarray(rng.random(scores.shape[0]))  # random order among equal scores
    order = np.lexsort((jitter, -scores))
    return order[:n], scores
