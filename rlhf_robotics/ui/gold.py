"""Gold questions from the hidden objective: pairs whose true returns differ a lot, with the answer attached.

MuJoCo tasks know their true return, so gold questions cost nothing: the loop puts
``meta["true_return_first"]`` and ``meta["true_return_second"]`` on each query it posts, and
:func:`make_gold_queries` appends new queries that pair items with a large true-return gap and carry
``gold_label``. The app mixes them into the queue unannounced and reports each annotator's accuracy on them.
Their judgments are ordinary comparisons too, so the trainer may use them.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from rlhf_robotics.preference.records import Query
from rlhf_robotics.preference.store import PreferenceStore, StoredQuery

GOLD_SELECTOR = "gold"


def item_returns(queries: Sequence[StoredQuery]) -> dict[str, float]:
    """item id → true return, from every query whose meta carries both true returns (text pairs excluded)."""
    returns: dict[str, float] = {}
    for sq in queries:
        meta = sq.query.meta
        r1, r2 = meta.get("true_return_first"), meta.get("true_return_second")
        if "texts" in meta or not isinstance(r1, (int, float)) or not isinstance(r2, (int, float)):
            continue
        returns[sq.query.first] = float(r1)
        returns[sq.query.second] = float(r2)
    return returns


def gold_pairs(
    returns: dict[str, float], count: int, min_gap_std: float, rng: random.Random, exclude: set[frozenset[str]]
) -> list[tuple[str, str]]:
    """Up to ``count`` random ordered pairs of items whose true returns differ by ≥ ``min_gap_std`` × their std.

    Args:
        returns: item id → true return.
        count: most pairs to return.
        min_gap_std: the smallest gap, in units of the standard deviation of all items' returns.
        rng: source of the pair choice and order.
        exclude: unordered pairs already used (not returned again).
    """
    if min_gap_std < 0:
        raise ValueError(f"min_gap_std must be >= 0, got {min_gap_std}")
    items = sorted(returns)
    if len(items) < 2 or count <= 0:
        return []
    threshold = min_gap_std * statistics.pstdev(returns.values())
    chosen: list[tuple[str, str]] = []
    seen = set(exclude)
    for _ in range(50 * count):
        a, b = rng.sample(items, 2)
        key = frozenset((a, b))
        if key in seen or abs(returns[a] - returns[b]) < max(threshold, 1e-12):
            continue
        seen.add(key)
        chosen.append((a, b))
        if len(chosen) == count:
            break
    return chosen


def make_gold_queries(
    store: PreferenceStore,
    count: int,
    rng: random.Random,
    min_gap_std: float = 1.0,
) -> list[int]:
    """Append up to ``count`` gold queries to ``store``; returns their ids.

    Each pairs two items already in the store's queries (so their clips exist) whose true returns differ by at
    least ``min_gap_std`` standard deviations; ``gold_label`` is the side with the higher true return.
    """
    queries = store.queries()
    used = {frozenset((sq.query.first, sq.query.second)) for sq in queries if sq.query.selector == GOLD_SELECTOR}
    returns = item_returns(queries)
    new = []
    for a, b in gold_pairs(returns, count, min_gap_std, rng, used):
        gap = returns[a] - returns[b]
        new.append(
            Query(
                first=a,
                second=b,
                selector=GOLD_SELECTOR,
                score=abs(gap),
                priority=0.0,
                gold_label="first" if gap > 0 else "second",
                meta={"gold": True, "true_return_first": returns[a], "true_return_second": returns[b]},
            )
        )
    return store.add_queries(new) if new else []


def is_gold(query: Query) -> bool:
    """Whether a query is a gold question (it has an answer from the hidden objective)."""
    return query.gold_label is not None
