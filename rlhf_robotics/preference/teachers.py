"""Synthetic teachers: simulated annotators that judge pairs from a score function.

A teacher sees each item's per-step scores (true reward terms in robotics, verifier or rubric scores in the
LM track; a single score is a one-step item) and answers like a person with known irrationalities. The steps
follow B-Pref (Lee et al. 2021), each applied exactly once, in this order:

1. return noise: Gaussian noise with std ``return_noise · scale`` on each item's return (misperception);
2. skip: if both returns are below ``skip_threshold · scale``, answer ``skip``;
3. equal: if |R₁ − R₂| < ``equal_threshold · scale`` (undiscounted returns), the answer will be ``tie``;
4. myopic γ: step t of H is weighted γ^(H−1−t), so recent steps count more;
5. stochastic β: P(first) = σ(β·(R₁ − R₂)) on the discounted returns, β = inf is a perfect argmax;
6. mistake ε: the answer is flipped with probability ε; then step 3's ties replace the answer;
7. random responder (Christiano et al. 2017): with probability ``random_answer`` first/second uniformly;
8. position bias: with probability ``position_bias`` the answer is ``first`` whatever was seen.

``scale`` is the typical magnitude of one item's return (mean |R| over the batch, unless given), so thresholds
mean the same across tasks. B-Pref's reference code multiplies thresholds by ε a second time after the first
round; we do not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from rlhf_robotics.preference.records import Label


@dataclass(frozen=True)
class TeacherConfig:
    """Parameters of a synthetic teacher (B-Pref plus Christiano's random responder)."""

    beta: float = math.inf
    """Rationality: P(first) = σ(β ΔR); inf = always the better one. B-Pref writes inf as -1."""
    gamma: float = 1.0
    """Myopia discount in (0, 1]; 1 = all steps count equally."""
    mistake: float = 0.0
    """ε, probability of flipping the answer."""
    skip_threshold: float = 0.0
    """Skip when both returns are below this many typical returns (0 = never)."""
    equal_threshold: float = 0.0
    """Tie when |ΔR| is below this many typical returns (0 = never)."""
    random_answer: float = 0.0
    """Probability of answering first/second uniformly at random."""
    position_bias: float = 0.0
    """Probability of answering ``first`` regardless of the items."""
    return_noise: float = 0.0
    """Std of Gaussian noise on each return, in typical returns."""

    def __post_init__(self) -> None:
        if self.beta == -1:
            object.__setattr__(self, "beta", math.inf)
        if not (self.beta > 0):
            raise ValueError(f"beta must be > 0 or inf (written -1 in B-Pref), got {self.beta}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        for name in ("mistake", "random_answer", "position_bias"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {value}")
        for name in ("skip_threshold", "equal_threshold", "return_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


PRESETS: dict[str, TeacherConfig] = {
    "oracle": TeacherConfig(),
    "mistake": TeacherConfig(mistake=0.1),
    "noisy": TeacherConfig(beta=1.0),
    "skip": TeacherConfig(skip_threshold=0.1),
    "myopic": TeacherConfig(gamma=0.9),
    "equal": TeacherConfig(equal_threshold=0.1),
    "random": TeacherConfig(random_answer=1.0),
}
"""B-Pref's six teachers (Lee et al. 2021, Table 1) plus a uniformly random responder."""


def preset(name: str, **overrides: float) -> TeacherConfig:
    """A named preset, optionally with some fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown teacher preset {name!r}; expected one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Σ_t γ^(H−1−t) r_t over the last axis of ``rewards`` ``(P, H)`` → ``(P,)``."""
    h = rewards.shape[-1]
    weights = gamma ** np.arange(h - 1, -1, -1, dtype=np.float64)
    return rewards @ weights


class Teacher:
    """Judges pairs of items from their per-step scores.

    Args:
        config: the teacher's irrationalities.
        rng: the teacher's own generator; the same seed gives the same answers.
        name: recorded as the judgment's annotator (``teacher:<name>``).
    """

    def __init__(self, config: TeacherConfig, rng: np.random.Generator, name: str = "custom") -> None:
        self.config = config
        self.rng = rng
        self.name = name

    @property
    def annotator(self) -> str:
        return f"teacher:{self.name}"

    def describe(self) -> dict[str, float | str]:
        return {"name": self.name, **asdict(self.config)}

    def judge(self, first: np.ndarray, second: np.ndarray, scale: float | None = None) -> list[Label]:
        """Answer P comparisons.

        Args:
            first: ``(P, H)`` per-step scores of the first items, or ``(P,)`` one score each.
            second: same shape, for the second items.
            scale: typical |return| of one item; default: mean |R| over this batch.

        Returns:
            P labels among ``first``, ``second``, ``tie``, ``skip``.
        """
        c = self.config
        r1 = np.asarray(first, dtype=np.float64)
        r2 = np.asarray(second, dtype=np.float64)
        if r1.shape != r2.shape:
            raise ValueError(f"first and second must have the same shape, got {r1.shape} and {r2.shape}")
        if r1.ndim == 1:
            r1, r2 = r1[:, None], r2[:, None]
        p = r1.shape[0]
        ret1, ret2 = r1.sum(-1), r2.sum(-1)
        if scale is None:
            scale = float(np.mean(np.abs(np.concatenate([ret1, ret2])))) if p else 1.0
        scale = max(scale, 1e-12)

        if c.return_noise > 0:  # 1. misperception, shifts the whole item's return
            n1 = self.rng.normal(0.0, c.return_noise * scale, p)
            n2 = self.rng.normal(0.0, c.return_noise * scale, p)
            ret1, ret2 = ret1 + n1, ret2 + n2
            r1 = r1 + (n1 / r1.shape[-1])[:, None]
            r2 = r2 + (n2 / r2.shape[-1])[:, None]
        skip = np.maximum(ret1, ret2) < c.skip_threshold * scale if c.skip_threshold > 0 else np.zeros(p, bool)
        equal = np.abs(ret1 - ret2) < c.equal_threshold * scale if c.equal_threshold > 0 else np.zeros(p, bool)
        d1, d2 = (discounted_returns(r1, c.gamma), discounted_returns(r2, c.gamma)) if c.gamma < 1 else (ret1, ret2)
        if math.isinf(c.beta):
            prefers_first = d1 > d2
            exact = d1 == d2  # no information: a fair coin, not always "second"
            prefers_first = np.where(exact, self.rng.random(p) < 0.5, prefers_first)
        else:
            p_first = 1.0 / (1.0 + np.exp(-np.clip(c.beta * (d1 - d2), -500, 500)))
            prefers_first = self.rng.random(p) < p_first
        if c.mistake > 0:
            prefers_first = prefers_first ^ (self.rng.random(p) < c.mistake)
        labels = np.where(prefers_first, "first", "second").astype(object)
        labels[equal] = "tie"
        if c.random_answer > 0:
            random = np.asarray(self.rng.random(p)) < c.random_answer
            labels[random] = np.where(self.rng.random(int(random.sum())) < 0.5, "first", "second")
        if c.position_bias > 0:
            labels[self.rng.random(p) < c.position_bias] = "first"
        labels[skip] = "skip"
        return [str(x) for x in labels]  # type: ignore[misc]


def build_teacher(name: str, seed: int, **overrides: float) -> Teacher:
    """The named preset's teacher with its own generator seeded by ``seed``."""
    return Teacher(preset(name, **overrides), np.random.default_rng(seed), name)
