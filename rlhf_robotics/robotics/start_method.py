"""Starting worker processes from wherever the package runs: a plain script, a test, or a job of Hydra's joblib
launcher, whose loky worker sets a default start method that spawned children cannot find.

The reward refit's worker (:mod:`rlhf_robotics.robotics.reward_fit`) and the labelling app's render workers
(:mod:`rlhf_robotics.robotics.render_pool`) both start theirs under :func:`starting_workers`: a default start
method a spawned child can set (:func:`spawnable_start_method`) and Ctrl-C left to the run even while a worker is
still importing (:func:`children_ignore_sigint`). One guard for both, because a start site that took only the first
(the refit worker's, until Dec 5) printed a KeyboardInterrupt traceback beside the run's "stopped by SIGINT". They
live here, importing nothing of either, so the app's renders do not import the reward model's trainer to get them."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
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


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside keep ignoring SIGINT (an ignored signal stays ignored across exec, and Python then
    installs no KeyboardInterrupt handler). Ctrl-C reaches the whole process group: the workers leave it to the
    run, which stops them in order (``ClipPool.close``, ``RewardFitter.close``), instead of each dying with a
    traceback of its own, even while they are still starting. Only the main thread may change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def starting_workers() -> Iterator[None]:
    """Where worker processes may start (a ``ProcessPoolExecutor.submit``): both guards above."""
    with children_ignore_sigint(), spawnable_start_method():
        yield
