"""Aggregate statistics over seeds, after Agarwal et al. 2021 ("Deep RL at the edge of the statistical
precipice", the rliable library): interquartile mean, percentile-bootstrap confidence intervals and the
probability of improvement.

Written with numpy rather than imported from ``rliable``: rliable 1.2.0 needs ``arch<8``, and arch 7.x fails to
import under pandas 3 (``deprecate_kwarg() missing 1 required positional argument``), so using it would pin
pandas below its current release and add scipy, pandas, statsmodels, arch and seaborn (about 300 MB) for the
four functions below. The definitions follow rliable's (``metrics.aggregate_iqm`` = ``scipy.stats.trim_mean``
at 25 %, ``metrics.probability_of_improvement`` = the normalised Mann–Whitney U statistic, percentile bootstrap
over runs) so numbers agree with it on one task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], float]


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % of ``x`` (shape ``(n,)``).

    Cuts ``floor(0.25 n)`` values from each end, as ``scipy.stats.trim_mean(x, 0.25)`` and rliable do; with
    fewer than 4 values nothing is cut and this is the mean.
    """
    x = np.sort(np.asarray(x, dtype=float).ravel())
    if x.size == 0:
        raise ValueError("iqm of no values; give at least one run's score")
    k = int(0.25 * x.size)
    return float(x[k : x.size - k].mean())


def mean(x: np.ndarray) -> float:
    """Arithmetic mean of ``x`` (shape ``(n,)``)."""
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("mean of no values; give at least one run's score")
    return float(x.mean())


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    point: float
    low: float
    high: float
    n: int
    """Runs the estimate is over."""

    def fmt(self, digits: int = 3) -> str:
        """``point [low, high]``, or ``n/a`` when there were no runs."""
        if self.n == 0 or not np.isfinite(self.point):
            return "n/a"
        return f"{self.point:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def bootstrap_ci(x: np.ndarray, statistic: Statistic, rng: np.random.Generator, reps: int = 2000,
                 confidence: float = 0.95) -> Interval:
    """Percentile-bootstrap confidence interval of ``statistic`` over runs ``x`` (shape ``(n,)``).

    Resamples the ``n`` runs with replacement ``reps`` times and takes the ``(1 ± confidence) / 2`` quantiles of
    the statistic (Efron & Tibshirani 1993, §13.3; rliable's default ``percentile`` method). One run gives a
    zero-width interval; no runs give NaNs with ``n=0``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}; use e.g. 0.95")
    if reps < 1:
        raise ValueError(f"reps must be >= 1 bootstrap resamples, got {reps}")
    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    point = statistic(x)
    idx = rng.integers(0, x.size, size=(reps, x.size))  # (reps, n)
    stats = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(point, float(low), float(high), int(x.size))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y): the chance a run of setting X scores above a run of setting Y, ties counting one half.

    The Mann–Whitney U statistic over all ``len(x) × len(y)`` pairs divided by their number (Agarwal et al.
    2021, eq. 4, for one task).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError(f"probability of improvement needs runs on both sides, got {x.size} and {y.size}")
    diff = x[:, None] - y[None, :]  # (n_x, n_y)
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def probability_of_improvement_ci(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, reps: int = 2000,
                                  confidence: float = 0.95) -> Interval:
    """:func:`probability_of_improvement` with a percentile-bootstrap interval (X's and Y's runs resampled
    independently, as rliable stratifies by setting)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    point = probability_of_improvement(x, y)
    ix = rng.integers(0, x.size, size=(reps, x.size))
    iy = rng.integers(0, y.size, size=(reps, y.size))
    stats = np.array([probability_of_improvement(x[a], y[b]) for a, b in zip(ix, iy)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(point, float(low), float(high), int(min(x.size, y.size)))


def curve_band(curves: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, reps: int = 500,
               confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean learning curve over runs with a bootstrap band.

    Args:
        curves: per run ``(steps, values)``, each of shape ``(T_i,)``, steps increasing.
        rng: generator for the bootstrap.
        reps: bootstrap resamples per grid point.
        confidence: width of the band.

    Returns:
        ``(grid, mean, low, high)``, each ``(G,)``: the grid is the union of all runs' steps up to the shortest
        run's last step, each run linearly interpolated onto it.
    """
    curves = [(np.asarray(s, float), np.asarray(v, float)) for s, v in curves if len(s) > 0]
    if not curves:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    end = min(s[-1] for s, _ in curves)
    grid = np.unique(np.concatenate([s[s <= end] for s, _ in curves]))
    values = np.stack([np.interp(grid, s, v) for s, v in curves])  # (runs, G)
    center = values.mean(axis=0)
    idx = rng.integers(0, len(curves), size=(reps, len(curves)))
    boot = values[idx].mean(axis=1)  # (reps, G)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)
    return grid, center, low, high
