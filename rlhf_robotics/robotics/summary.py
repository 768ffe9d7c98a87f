"""The result of a run: :class:`Summary` (written to ``summary.json``), its human-readable table and its
verifier success rates as metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rlhf_robotics.robotics.evaluation import ReturnStats, SuccessRate


# ----------------------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """What a run achieved; written to ``summary.json``."""

    env_id: str
    total_steps: int
    seed: int
    labels_used: int
    label_counts: dict[str, int]
    policy_return_true: ReturnStats
    initial_policy_return_true: ReturnStats | None
    """The same policy before any training (deterministic actions), so improvement can be read off."""
    random_return_true: ReturnStats
    baseline_return_true: ReturnStats | None
    fraction_of_true_reward_ppo: float | None
    """Learned-reward policy's true return / true-reward PPO's (same steps); None unless both are >= 0 (with
    negative returns the ratio does not order policies: use ``normalized_score``)."""
    normalized_score: float | None
    """(ours − random) / (true-reward PPO − random): 0 = random, 1 = PPO on the true reward."""
    reward_model_accuracy_vs_oracle: float
    """Ensemble's agreement with a perfect oracle on fresh segment pairs from the final policy."""
    reward_model_val_accuracy: float
    reward_correlation_step: float
    """Pearson correlation of learned and true per-step reward on recent transitions."""
    reward_correlation_segment: float
    wall_seconds: dict[str, float]
    """Per phase: policy_learn (includes reward_inference), reward_training, selection, labelling, checkpoint,
    baseline, evaluation; and loop_total (everything but baseline and evaluation)."""
    files: dict[str, str]
    reference_return: float | None = None
    """``env.reference_return``: a fixed published return (e.g. rl-baselines3-zoo's PPO), None if the task has none."""
    score_vs_reference: float | None = None
    """(ours − random) / (reference − random): 0 = random, 1 = the fixed reference; unlike ``normalized_score`` it
    does not move with this run's own baseline (PPO on Hopper ends anywhere from 361 to 1,312 by seed)."""
    policy_success: SuccessRate | None = None
    """The learned-reward policy's verifier success rate over the evaluation episodes (see
    :class:`~rlhf_robotics.robotics.evaluation.SuccessRate`: ``rate`` null with a ``reason`` for a task without a
    verifier). None only in summaries written before success rates were recorded."""
    initial_policy_success: SuccessRate | None = None
    random_success: SuccessRate | None = None
    baseline_success: SuccessRate | None = None
    """True-reward PPO's; None when the baseline was not run."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """The summary written by :meth:`to_json` (``summary.json``)."""
        stats = ("policy_return_true", "initial_policy_return_true", "random_return_true", "baseline_return_true")
        rates = ("policy_success", "initial_policy_success", "random_success", "baseline_success")
        fields: dict[str, Any] = {
            k: ReturnStats(**v) if k in stats and v is not None else SuccessRate(**v) if k in rates and v is not None else v
            for k, v in data.items()
        }
        return cls(**fields)


def success_text(rate: SuccessRate | None) -> str:
    """``0.40 (4/10)``, ``n/a (no verifier)`` or ``–`` (not measured)."""
    if rate is None:
        return "–"
    if rate.rate is None:
        return "n/a (no verifier)"
    return f"{rate.rate:.2f} ({rate.successes}/{rate.episodes})"


def summary_table(s: Summary) -> str:
    """A few human-readable lines."""
    base = f"{s.baseline_return_true.mean:10.1f} ± {s.baseline_return_true.std:.1f}" if s.baseline_return_true else "   (not run)"
    lines = [
        f"{s.env_id}, {s.total_steps} steps, seed {s.seed}, {s.labels_used} labels {dict(s.label_counts)}",
        f"  true return, learned-reward PPO : {s.policy_return_true.mean:10.1f} ± {s.policy_return_true.std:.1f}",
        *([f"  true return, initial policy     : {s.initial_policy_return_true.mean:10.1f} ± {s.initial_policy_return_true.std:.1f}"]
          if s.initial_policy_return_true else []),
        f"  true return, random policy      : {s.random_return_true.mean:10.1f} ± {s.random_return_true.std:.1f}",
        f"  true return, true-reward PPO    : {base}",
    ]
    if s.fraction_of_true_reward_ppo is not None:
        lines.append(f"  fraction of true-reward PPO     : {s.fraction_of_true_reward_ppo:.3f}")
    if s.normalized_score is not None:
        lines.append(f"  normalised score                : {s.normalized_score:.3f}   (0 = random, 1 = true-reward PPO)")
    if s.score_vs_reference is not None:
        lines.append(f"  score vs reference              : {s.score_vs_reference:.3f}   (0 = random, 1 = {s.reference_return:.0f})")
    if s.policy_success is not None:
        lines.append(f"  verifier success rate           : learned-reward PPO {success_text(s.policy_success)}, "
                     f"initial {success_text(s.initial_policy_success)}, random {success_text(s.random_success)}, "
                     f"true-reward PPO {success_text(s.baseline_success)}")
    lines.append(f"  reward model accuracy vs oracle : {s.reward_model_accuracy_vs_oracle:.3f}   "
                 f"step-reward correlation {s.reward_correlation_step:.3f}")
    lines.append(f"  wall time: loop {s.wall_seconds.get('loop_total', 0):.0f} s, baseline {s.wall_seconds.get('baseline', 0):.0f} s")
    lines += [f"  {k}: {v}" for k, v in s.files.items()]
    return "\n".join(lines)


SUCCESS_METRICS: dict[str, str] = {
    "policy/success_rate_final": "policy_success",
    "initial_policy/success_rate": "initial_policy_success",
    "random/success_rate": "random_success",
    "baseline/success_rate": "baseline_success",
}
"""Metric key (``metrics.jsonl``, TensorBoard) → the :class:`Summary` field it reports."""


def success_metrics(s: Summary) -> dict[str, float | str | None]:
    """The summary's success rates under their metric keys: a float, or None (JSON null) with the reason under
    ``success/reason`` for a task without a verifier. Policies that were not evaluated (no baseline) are left out."""
    row: dict[str, float | str | None] = {}
    for key, name in SUCCESS_METRICS.items():
        rate: SuccessRate | None = getattr(s, name)
        if rate is not None:
            row[key] = rate.rate
            if rate.reason is not None:
                row["success/reason"] = rate.reason
    return row
