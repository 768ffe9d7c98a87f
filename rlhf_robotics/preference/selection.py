"""Query selection: which candidate pairs are worth a label.

Every rule scores candidates from the ensemble's preference logits ``(E, C)`` (member e's logit of
P(first ≻ second) for candidate c); :func:`select` keeps the ``n`` best. Christiano et al. (2017) sampled 10×
more candidates than needed and kept those with the highest disagreement; their ablations found it sometimes
hurts, so ``uniform`` is always available. ``kcenter_disagreement`` (B-Pref's ``kcenter_disagree``, Lee et al.
2021) also spreads the chosen batch over the candidates' features, and :func:`recent_pool` restricts candidates to
recent behaviour (QPA, Hu et al. 2024).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np

Selector = Literal["uniform", "disagreement", "entropy", "logit_variance", "kcenter_disagreement"]
SELECTORS: tuple[str, ...] = get_args(Selector)
FEATURE_SELECTORS: tuple[str, ...] = ("kcenter_disagreement",)
"""Selectors that also need the candidates' features (``select(..., features=...)``)."""


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


def check_selector(name: str, *, with_features: bool = False) -> Selector:
    """``name`` as a :data:`Selector`, refusing unknown names and, unless the caller passes candidate features
    (``with_features``), the selectors of :data:`FEATURE_SELECTORS`."""
    allowed = SELECTORS if with_features else tuple(s for s in SELECTORS if s not in FEATURE_SELECTORS)
    if name not in allowed:
        extra = (f" ({name} needs candidate features, which this caller does not provide)"
                 if name in FEATURE_SELECTORS else "")
        raise ValueError(f"unknown selection {name!r}; expected one of {', '.join(allowed)}{extra}")
    return name  # type: ignore[return-value]


def candidate_count(n: int, oversampling: float, selector: str) -> int:
    """How many candidate pairs to draw for ``n`` queries: ``n`` for uniform, ``ceil(n·oversampling)`` else."""
    if oversampling < 1:
        raise ValueError(f"oversampling must be >= 1, got {oversampling}")
    return n if selector == "uniform" else int(np.ceil(n * oversampling))


def greedy_kcenter(features: np.ndarray, n: int, centres: np.ndarray | None = None) -> np.ndarray:
    """Greedy k-center (Sener & Savarese 2018, as B-Pref's ``KCenterGreedy``): repeatedly take the candidate
    farthest (Euclidean) from everything chosen so far and from ``centres``.

    Args:
        features: ``(C, F)`` candidate features, in order of preference (ties in distance go to the earlier one;
            with no ``centres`` the first candidate is taken first).
        n: how many to choose (at most C).
        centres: optional ``(L, F)`` points already covered (e.g. the features of labelled pairs).

    Returns:
        ``(n,)`` indices into ``features``, in the order chosen.
    """
    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    n = min(n, len(features))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    chosen: list[int] = []
    if centres is not None and len(centres):
        centres = np.asarray(centres, dtype=np.float64).reshape(len(centres), -1)
        nearest = np.min(((features[:, None, :] - centres[None, :, :]) ** 2).sum(-1), axis=1)
    else:
        chosen.append(0)
        nearest = ((features - features[0]) ** 2).sum(-1)
    while len(chosen) < n:
        nearest[chosen] = -np.inf
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((features - features[pick]) ** 2).sum(-1))
    return np.asarray(chosen, dtype=np.int64)


def kcenter_disagreement(logits: np.ndarray, features: np.ndarray, n: int, rng: np.random.Generator,
                         keep_fraction: float = 0.5, centres: np.ndarray | None = None) -> np.ndarray:
    """B-Pref's ``kcenter_disagree``: keep the ``keep_fraction`` of candidates the members disagree on most, then
    choose ``n`` of them by greedy k-center over ``features`` ``(C, F)`` (e.g. both segments' observations,
    flattened), away from ``centres`` (the labelled pairs' features). Returns ``(n,)`` candidate indices."""
    scores = disagreement(logits)
    order = np.lexsort((np.asarray(rng.random(len(scores))), -scores))
    pool = order[: max(n, int(np.ceil(len(order) * keep_fraction)))]
    return pool[greedy_kcenter(np.asarray(features)[pool], n, centres)]


def recent_pool(collected_at: np.ndarray, window: int) -> np.ndarray:
    """QPA's query-policy alignment (Hu et al. 2024, "Query-Policy Misalignment in Preference-Based Reinforcement
    Learning", ICLR): candidates come only from recent behaviour. Indices of the segments whose collection time
    (env step or episode number, ``(S,)``) lies within ``window`` of the newest one."""
    if window < 1:
        raise ValueError(f"window={window}: must be >= 1 (steps or episodes of recent behaviour to draw from)")
    collected_at = np.asarray(collected_at)
    if collected_at.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(collected_at > collected_at.max() - window)


def select(logits: np.ndarray, n: int, selector: str, rng: np.random.Generator, *,
           features: np.ndarray | None = None, centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n`` highest-scoring candidates (random order among equal scores) and all scores.

    Args:
        logits: ``(E, C)`` member logits of P(first ≻ second), or ``(C,)`` for a single model.
        n: how many to keep (at most C).
        selector: one of :data:`SELECTORS`.
        rng: breaks ties between equal scores (and so does all the work for ``uniform``).
        features: ``(C, F)`` candidate features; ``kcenter_disagreement`` needs them, the others ignore them.
        centres: ``(L, F)`` features of already labelled pairs, which ``kcenter_disagreement`` keeps away from.

    Returns:
        ``(chosen (n,), scores (C,))``; the scores are the disagreement for ``kcenter_disagreement``.
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if check_selector(selector, with_features=True) == "kcenter_disagreement":
        if features is None or len(features) != logits.shape[-1]:
            raise ValueError("selection kcenter_disagreement needs features=(C, F), one row per candidate pair "
                             f"({logits.shape[-1]} candidates); pass them, or choose another selection")
        return kcenter_disagreement(logits, features, n, rng, centres=centres), disagreement(logits)
    scores = SCORE_FUNCTIONS[selector](logits)
    n = min(n, scores.shape[0])
    jitter = np.asarray(rng.random(scores.shape[0]))  # random order among equal scores
    order = np.lexsort((jitter, -scores))
    return order[:n], scores
