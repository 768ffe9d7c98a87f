"""Starting worker processes from wherever the package runs: a plain script, a test, or a job of Hydra's joblib
launcher, whose loky worker sets a default start method that spawned children cannot find.

The reward refit's worker (:mod:`rlhf_robotics.robotics.reward_fit`) and the labelling app's render workers
(:mod:`rlhf_robotics.robotics.render_pool`) both start theirs under :func:`spawnable_start_method`; it lives here,
importing nothing of either, so the app's renders do not import the reward model's trainer to get it."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator


@contextlib.contextmanager
def spawnable_start_method() -> Iterator[None]:
    """While a ``spawn`` child starts: a default start method the child can set in turn. A spawned child first sets
    its parent's default start method; in a job of Hydra's joblib launcher the parent is a loky worker, whose default
    is loky's own ``"loky"``, which a child that has not imported loky cannot find ("cannot find context for
    'loky'"): the refit worker died and every refit of the job failed. The parent's method is restored after."""
    method = multiprocessing.get_start_method(allow_none=True)
    foreign = method is not None and method not in multiprocessing.get_all_start_methods()
    if foreign:
        multiprocessing.set_start_method("spawn", force=True)
    try:
        yield
    finally:
        if foreign:
            multiprocessing.set_start_method(method, force=True)
