"""Settings of the label-efficiency techniques of issue 13, each off by default: B-Pref's accuracy stop, SURF's
temporal crops and pseudo-labels, RIME's trust bound, RUNE's exploration bonus and REED's self-predictive encoder.

The maths lives beside each technique (:mod:`~rlhf_robotics.preference.augment`,
:mod:`~rlhf_robotics.preference.semi_supervised`, :mod:`~rlhf_robotics.preference.robust`,
:mod:`~rlhf_robotics.preference.intrinsic`, :mod:`~rlhf_robotics.preference.self_predictive`); this module only
holds the typed settings and checks them (:meth:`TechniquesConfig.validate`) before any work starts.

How a loop uses them (it only passes settings and data through)::

    tech = config.reward_model.techniques
    metrics = train_ensemble(ensemble, data, trainer_config, rng, techniques=tech,
                             unlabelled=recent_segments,   # (U, T, D) unlabelled segments, SURF draws pairs
                             transitions=all_segments,     # (N, T, D) consecutive steps, REED pre-trains on them
                             self_predictive=reed_heads)   # optional: REED's heads kept between rounds
    # REED between fits: reed_heads = SelfPredictive(ensemble, tech.reed, seed); reed_heads.train(ensemble, x, gen)
    # RUNE in the reward wrapper: stacked(x) + rune_bonus(stacked.member_rewards(x), rune_beta(β₀, ρ, step))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


def check_value(
    key: str, value: float, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
    lt: float | None = None, why: str = "",
) -> None:
    """Raise ``ValueError("key=value: must be ...")`` unless ``value`` lies in the given bounds (NaN never does)."""
    bad = (ge is not None and not value >= ge) or (gt is not None and not value > gt) or (
        le is not None and not value <= le) or (lt is not None and not value < lt) or value != value
    if bad:
        parts = [f">= {ge}" if ge is not None else "", f"> {gt}" if gt is not None else "",
                 f"<= {le}" if le is not None else "", f"< {lt}" if lt is not None else ""]
        allowed = " and ".join(p for p in parts if p)
        raise ValueError(f"{key}={value!r}: must be {allowed}{f' ({why})' if why else ''}")


@dataclass
class SURFConfig:
    """SURF's semi-supervised pseudo-labels (Park et al. 2022, "SURF: Semi-supervised Reward Learning with Data
    Augmentation for Feedback-efficient Preference-based RL", ICLR): unlabelled segment pairs whose predicted
    preference is confident enough get the predicted answer as a label."""

    enabled: bool = False
    """Train on pseudo-labelled pairs beside the labelled ones (needs ``unlabelled`` items passed to the trainer)."""
    threshold: float = 0.99
    """Confidence τ in (0.5, 1): a pair is pseudo-labelled when max(P, 1 − P) > τ (SURF: 0.99–0.999)."""
    ratio: float = 4.0
    """Unlabelled pairs per labelled pair in each minibatch, μ (SURF: 4)."""
    weight: float = 1.0
    """Loss weight λ of the pseudo-labelled term (SURF: 1)."""


@dataclass
class RIMEConfig:
    """RIME's trust bound on each label's loss (Cheng et al. 2024, "RIME: Robust Preference-based Reinforcement
    Learning with Noisy Preferences", ICML): a label whose loss −ln P(label) exceeds
    ``−ln ρ + α·ρ + β_t·σ`` is dropped for the epoch (ρ: running max loss of the labels trusted before, σ: their
    running std, β_t decaying linearly), and one whose loss exceeds ``−ln η`` is flipped."""

    enabled: bool = False
    """Filter (and flip) suspect labels in every epoch after the warm start."""
    alpha: float = 0.5
    """α of the lower bound −ln ρ + αρ. Its smallest value over ρ is 1 + ln α, so α must exceed 1/e or the bound
    could fall to 0 and drop every label (RIME: 0.5–1)."""
    beta_init: float = 3.0
    """β at the first filtered epoch: weight of the loss std in the bound (RIME: 2–3)."""
    beta_min: float = 1.0
    """β never falls below this (RIME: 0.1–1)."""
    beta_decay_epochs: int = 30
    """Epochs over which β falls linearly from ``beta_init`` to ``beta_min`` (RIME's k)."""
    flip_probability: float = 0.001
    """η: a label the model gives probability below η (loss above −ln η) is flipped, not dropped (RIME: 0.001).
    0 = never flip, only drop."""
    warmup_epochs: int = 3
    """Epochs of each member's fit trained on every label before filtering starts (the model must first learn
    something to judge labels by); their losses seed ρ and σ."""
    max_uncertainty: float = 3.0
    """Cap on the β_t·σ term (RIME's code: 3)."""


@dataclass
class RUNEConfig:
    """RUNE's exploration bonus (Liang et al. 2022, "Reward Uncertainty for Exploration in Preference-based
    Reinforcement Learning", ICLR): r = r̂ + β_t·std_e(r̂_e), β_t = β₀(1 − ρ)^t."""

    enabled: bool = False
    """Add the bonus to the reward the policy sees (the reward wrapper adds it)."""
    beta0: float = 0.05
    """β₀ ≥ 0, the bonus weight at step 0 (RUNE: 0.05)."""
    decay: float = 0.00001
    """ρ in [0, 1): per-step decay of the weight (RUNE: 1e-5 … 1e-3 per env step)."""


@dataclass
class REEDConfig:
    """REED's self-predictive reward features (Metcalf et al. 2024, "Sample-Efficient Preference-based Reinforcement
    Learning with Dynamics Aware Rewards", CoRL): the reward network's state-action encoder is pre-trained on
    transitions to predict the next step's latent (SimSiam-style: a projector and a predictor, stop-gradient on the
    target), then the Bradley–Terry fit trains on the labels."""

    enabled: bool = False
    """Pre-train the encoder on ``transitions`` before each Bradley–Terry fit."""
    epochs: int = 5
    """Passes over the transitions per pre-training."""
    batch_size: int = 256
    """Transitions per gradient step."""
    lr: float = 1e-3
    """Adam learning rate of the encoder, projector and predictor."""
    latent_dim: int = 32
    """Width of the projector's output (the latent that is predicted)."""


@dataclass
class TechniquesConfig:
    """Which label-efficiency techniques the reward trainer uses (issue 13); everything off = today's trainer, bit
    for bit."""

    stop_accuracy: float | None = None
    """B-Pref's stop (Lee et al. 2021, "B-Pref: Benchmarking Preference-Based Reinforcement Learning", NeurIPS
    Datasets and Benchmarks): a member stops training once its epoch's training accuracy on decisive pairs reaches
    this (B-Pref: 0.97). None = off."""
    crop_steps: int = 0
    """SURF's temporal-crop augmentation (Park et al. 2022): each training minibatch sees both segments of every
    pair cut to one random window of ``T − c`` … ``T`` steps, c drawn up to this. 0 = off; needs segments
    ``(N, T, D)`` with T > crop_steps."""
    surf: SURFConfig = field(default_factory=SURFConfig)
    """Semi-supervised pseudo-labels."""
    rime: RIMEConfig = field(default_factory=RIMEConfig)
    """Robust training against wrong labels."""
    rune: RUNEConfig = field(default_factory=RUNEConfig)
    """Exploration bonus from ensemble disagreement (used by the reward wrapper, not the trainer)."""
    reed: REEDConfig = field(default_factory=REEDConfig)
    """Self-predictive pre-training of the reward encoder."""

    @property
    def trainer_is_default(self) -> bool:
        """True when nothing here changes :func:`~rlhf_robotics.preference.trainer.train_ensemble`."""
        return self.stop_accuracy is None and self.crop_steps == 0 and not (
            self.surf.enabled or self.rime.enabled or self.reed.enabled)

    def validate(self, prefix: str = "techniques") -> None:
        """Check every setting; messages name the full key (``prefix.surf.threshold``), the value and what is allowed.

        Raises:
            ValueError: on the first bad value.
        """
        if self.stop_accuracy is not None:
            check_value(f"{prefix}.stop_accuracy", self.stop_accuracy, gt=0.5, le=1,
                        why="a training accuracy; B-Pref stops at 0.97, null turns the stop off")
        check_value(f"{prefix}.crop_steps", self.crop_steps, ge=0,
                    why="steps a crop may remove from a segment; 0 turns cropping off")
        s = self.surf
        check_value(f"{prefix}.surf.threshold", s.threshold, gt=0.5, lt=1,
                    why="confidence max(P, 1 − P) above which a pair is pseudo-labelled; SURF uses 0.99")
        check_value(f"{prefix}.surf.ratio", s.ratio, gt=0, why="unlabelled pairs per labelled pair in a minibatch")
        check_value(f"{prefix}.surf.weight", s.weight, ge=0, why="loss weight λ of the pseudo-labels")
        r = self.rime
        check_value(f"{prefix}.rime.alpha", r.alpha, gt=math.exp(-1),
                    why="the trust bound −ln ρ + αρ reaches 1 + ln α, which is <= 0 for α <= 1/e ≈ 0.368 and would "
                        "drop every label; RIME uses 0.5")
        check_value(f"{prefix}.rime.beta_min", r.beta_min, ge=0, why="weight of the loss std in the trust bound")
        check_value(f"{prefix}.rime.beta_init", r.beta_init, ge=r.beta_min, why=f"rime.beta_min={r.beta_min}")
        check_value(f"{prefix}.rime.beta_decay_epochs", r.beta_decay_epochs, ge=1)
        check_value(f"{prefix}.rime.flip_probability", r.flip_probability, ge=0, lt=0.5,
                    why="η: labels the model gives probability below η are flipped; 0 = never flip")
        check_value(f"{prefix}.rime.warmup_epochs", r.warmup_epochs, ge=0, why="epochs before filtering starts")
        check_value(f"{prefix}.rime.max_uncertainty", r.max_uncertainty, ge=0)
        check_value(f"{prefix}.rune.beta0", self.rune.beta0, ge=0, why="weight of the ensemble-std bonus at step 0")
        check_value(f"{prefix}.rune.decay", self.rune.decay, ge=0, lt=1,
                    why="ρ of β_t = β₀(1 − ρ)^t; 0 keeps the weight constant")
        e = self.reed
        check_value(f"{prefix}.reed.epochs", e.epochs, ge=1)
        check_value(f"{prefix}.reed.batch_size", e.batch_size, ge=1)
        check_value(f"{prefix}.reed.lr", e.lr, gt=0)
        check_value(f"{prefix}.reed.latent_dim", e.latent_dim, ge=1)


def check_technique_data(tech: TechniquesConfig, items: torch.Tensor, unlabelled: torch.Tensor | None,
                         transitions: torch.Tensor | None) -> None:
    """Refuse, before any work, a technique that lacks the data it needs or cannot apply to these ``items``.

    Raises:
        ValueError: naming the setting and what to pass or change.
    """
    if tech.crop_steps:
        if items.dim() != 3:
            raise ValueError(f"techniques.crop_steps={tech.crop_steps} crops segments (N, T, D); these items have "
                             f"shape {tuple(items.shape)}; set techniques.crop_steps=0")
        if tech.crop_steps >= items.shape[1]:
            raise ValueError(f"techniques.crop_steps={tech.crop_steps}: must be < the segment length "
                             f"{items.shape[1]} (a crop keeps at least one step)")
    if tech.surf.enabled:
        if unlabelled is None or len(unlabelled) == 0:
            raise ValueError("techniques.surf.enabled=true needs unlabelled segments: pass unlabelled=(U, T, D) to "
                             "train_ensemble, or set techniques.surf.enabled=false")
        if unlabelled.shape[1:] != items.shape[1:]:
            raise ValueError(f"unlabelled items have shape {tuple(unlabelled.shape[1:])} per item, the labelled "
                             f"ones {tuple(items.shape[1:])}; they must match")
    if tech.reed.enabled and (transitions is None or len(transitions) == 0):
        raise ValueError("techniques.reed.enabled=true needs transitions: pass transitions=(N, T, D) runs of "
                         "consecutive steps to train_ensemble, or set techniques.reed.enabled=false")
