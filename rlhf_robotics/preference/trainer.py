"""Training a reward ensemble on comparisons: bootstrap per member, a shared validation split, early stopping
and Christiano's adaptive L2 (keep validation loss between 1.1× and 1.5× training loss), plus the label-efficiency
techniques of issue 13 (:class:`~rlhf_robotics.preference.techniques.TechniquesConfig`), each off by default.
"""

from __future__ import annotations

import contextlib
import copy
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from rlhf_robotics.preference.augment import crop_window, temporal_crop
from rlhf_robotics.preference.ensemble import RewardEnsemble
from rlhf_robotics.preference.losses import bradley_terry_loss
from rlhf_robotics.preference.robust import TrustFilter, label_losses
from rlhf_robotics.preference.self_predictive import SelfPredictive, SelfPredictiveMetrics
from rlhf_robotics.preference.semi_supervised import pseudo_label_loss
from rlhf_robotics.preference.techniques import TechniquesConfig, check_technique_data


@dataclass
class PairDataset:
    """Comparisons over a table of items.

    ``items[first[k]]`` and ``items[second[k]]`` were compared; ``target[k]`` is P(first ≻ second).
    """

    items: torch.Tensor
    """``(N, ...)`` item features: segments ``(N, T, D)`` or token ids ``(N, L)``."""
    first: torch.Tensor
    """``(P,)`` long indices into ``items``."""
    second: torch.Tensor
    """``(P,)`` long indices into ``items``."""
    target: torch.Tensor
    """``(P,)`` float targets in [0, 1]."""
    weight: torch.Tensor | None = None
    """Optional ``(P,)`` non-negative loss weight per comparison (e.g. its annotators' reliability,
    :mod:`rlhf_robotics.preference.reliability`); None = every comparison counts the same (the unweighted mean)."""

    def __post_init__(self) -> None:
        p = len(self.target)
        if len(self.first) != p or len(self.second) != p:
            raise ValueError(f"first, second and target must have the same length, got {len(self.first)}, {len(self.second)}, {p}")
        if self.weight is not None and (len(self.weight) != p or (p and bool((self.weight < 0).any()))):
            raise ValueError(f"weight must be None or {p} non-negative numbers (one per comparison), got shape "
                             f"{tuple(self.weight.shape)}")
        if p and (self.target.min() < 0 or self.target.max() > 1):
            raise ValueError("targets must lie in [0, 1] (1 = first preferred, 0 = second, 0.5 = tie)")

    def __len__(self) -> int:
        return len(self.target)


@dataclass
class RewardTrainerConfig:
    """Hyperparameters of the reward-model trainer."""

    epochs: int = 100
    """Most passes over the data per call of :func:`train_ensemble`."""
    batch_size: int = 64
    """Pairs per gradient step."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """Initial L2 coefficient (decoupled, AdamW)."""
    regularisation: str = "adaptive_l2"
    """``adaptive_l2`` (Christiano et al. 2017), ``early_stopping``, or ``none``."""
    adaptive_l2_band: tuple[float, float] = (1.1, 1.5)
    """Target range of validation loss / training loss for adaptive L2."""
    patience: int = 10
    """Epochs without validation improvement before a member stops (every mode keeps the best epoch)."""
    val_fraction: float = 0.2
    """Share of comparisons held out for validation (Christiano used 1/e)."""
    bootstrap: bool = True
    """Each member trains on a bootstrap resample of the training split."""
    margin: float = 0.0
    """Bradley–Terry margin."""
    noise: float = 0.1
    """Uniform-answer probability built into the likelihood (Christiano's 10 %)."""
    label_smoothing: float = 0.0
    """Pull targets toward 0.5 by this much."""
    device: str = "auto"
    """Torch device to train on: ``auto`` (CUDA when present), ``cpu``, ``cuda[:N]``."""
    workers: int = 1
    """Members trained at once, in threads (torch releases the GIL inside its ops). At the loop's sizes the
    steps are short and mostly hold the GIL: with a core idle, 2 workers cut HalfCheetah's refits by only ~6 %
    (``benchmarks/results/overhead_sync_workers2.json``). With ``workers > 1`` each member draws its minibatch
    order from its own generator, so the weights differ from ``workers = 1``'s (and are the same for any
    ``workers > 1``). Members with dropout always train one after another (dropout draws from torch's global
    generator)."""

    def __post_init__(self) -> None:
        if self.regularisation not in ("adaptive_l2", "early_stopping", "none"):
            raise ValueError(
                f"regularisation={self.regularisation!r}; expected adaptive_l2, early_stopping or none"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")


@dataclass
class RewardTrainerMetrics:
    """What one call of :func:`train_ensemble` did; logged by the caller under ``reward_model/``."""

    n_train: int
    """Comparisons in the training split."""
    n_val: int
    """Comparisons in the validation split."""
    n_ties: int
    """Comparisons with target 0.5."""
    train_loss: float
    """Mean over members of the best epoch's training loss."""
    val_loss: float
    """Mean over members of the best validation loss (nan without a validation split)."""
    train_accuracy: float
    """Ensemble-mean accuracy on decisive training comparisons."""
    val_accuracy: float
    """Ensemble-mean accuracy on decisive validation comparisons (nan if none)."""
    epochs: list[int] = field(default_factory=list)
    """Epochs each member ran."""
    weight_decay: list[float] = field(default_factory=list)
    """Final L2 coefficient per member."""
    stopped_by_accuracy: list[bool] = field(default_factory=list)
    """Per member: whether B-Pref's accuracy stop ended its fit (all False with the stop off)."""
    trusted_fraction: float = math.nan
    """RIME: mean over members of the share of training labels trusted in the last epoch (nan with RIME off)."""
    flipped_fraction: float = math.nan
    """RIME: mean over members of the share of training labels flipped in the last epoch (nan with RIME off)."""
    pseudo_labelled_fraction: float = math.nan
    """SURF: share of the unlabelled pairs drawn during the fit that were confident enough to pseudo-label (nan
    with SURF off)."""
    self_predictive: SelfPredictiveMetrics | None = None
    """REED: the encoder's self-predictive loss before and after pre-training (None with REED off)."""


def _accuracy(scores_first: torch.Tensor, scores_second: torch.Tensor, target: torch.Tensor) -> float:
    decisive = target != 0.5
    if not bool(decisive.any()):
        return math.nan
    pred = (scores_first - scores_second)[decisive] > 0
    return float((pred == (target[decisive] > 0.5)).float().mean())


def split_validation(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, val) index split; at least one training pair, validation only with ≥ 2 pairs."""
    perm = rng.permutation(n)
    n_val = int(round(n * val_fraction)) if n >= 2 else 0
    n_val = min(n_val, n - 1)
    return perm[n_val:], perm[:n_val]


def train_ensemble(
    ensemble: RewardEnsemble,
    data: PairDataset,
    config: RewardTrainerConfig,
    rng: np.random.Generator,
    *,
    techniques: TechniquesConfig | None = None,
    unlabelled: torch.Tensor | None = None,
    transitions: torch.Tensor | None = None,
    self_predictive: SelfPredictive | None = None,
) -> RewardTrainerMetrics:
    """Fit every member of ``ensemble`` to ``data`` in place, warm-starting from its current weights.

    Randomness (split, bootstrap, minibatch order, dropout, crops, pseudo-label pairs) comes only from ``rng``, so
    the same seed gives the same weights. With ``techniques`` None or all off, the result is the trainer's from
    before issue 13, bit for bit (``unlabelled`` and ``transitions`` are then ignored).

    Args:
        ensemble: the members to train.
        data: the labelled comparisons.
        config: optimisation and regularisation.
        rng: the only source of randomness.
        techniques: issue 13's options (B-Pref's stop, SURF's crops and pseudo-labels, RIME, REED); validated
            here before any work.
        unlabelled: ``(U, T, D)`` segments with no label (e.g. the recent buffer's), from which SURF draws random
            pairs to pseudo-label; needed when ``techniques.surf.enabled``.
        transitions: ``(N, T, D)`` runs of consecutive steps (e.g. every collected segment) for REED's
            self-predictive pre-training, run before the fit; needed when ``techniques.reed.enabled``.
        self_predictive: REED's heads to keep training (so the projector and predictor carry over between
            rounds); None = fresh heads seeded from ``rng``.

    Raises:
        ValueError: no comparisons; a technique's setting out of range (naming ``techniques.<key>``); a technique
            without the data it needs.
    """
    if len(data) == 0:
        raise ValueError("no comparisons with a training target yet (ties count; cant_tell and skip do not)")
    tech = techniques or TechniquesConfig()
    tech.validate()
    check_technique_data(tech, data.items, unlabelled, transitions)
    if tech.trainer_is_default:
        unlabelled = transitions = None
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device)
    ensemble.to(device)
    items = data.items.to(device)
    first, second, target = data.first.to(device), data.second.to(device), data.target.to(device).float()
    weight = data.weight.to(device).float() if data.weight is not None else None
    train_idx, val_idx = split_validation(len(data), config.val_fraction, rng)
    reed_metrics = None
    if tech.reed.enabled and transitions is not None:
        # REED: the encoder learns the dynamics from every transition before the labels are fitted.
        self_predictive = self_predictive or SelfPredictive(ensemble, tech.reed, seed=int(rng.integers(2**31)))
        reed_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        reed_metrics = self_predictive.train(ensemble, transitions.to(device).float(), reed_gen)
    unl = unlabelled.to(device).float() if tech.surf.enabled and unlabelled is not None else None
    surf_counts = [0, 0]  # unlabelled pairs confident enough to pseudo-label, and drawn, over the whole fit

    def logits_of(member: int, idx: torch.Tensor, window: tuple[int, int] | None = None) -> torch.Tensor:
        """Member's logit s₁ − s₂ of pairs ``idx`` (on one temporal crop ``(offset, length)`` when given)."""
        a, b = items[first[idx]], items[second[idx]]
        if window is not None:
            a, b = temporal_crop(a, *window), temporal_crop(b, *window)
        return ensemble.member_score(member, a) - ensemble.member_score(member, b)

    def loss_of(member: int, idx: torch.Tensor, targets: torch.Tensor | None = None,
                window: tuple[int, int] | None = None) -> torch.Tensor:
        """Bradley–Terry loss of pairs ``idx`` against ``targets`` (RIME's flipped ones) or the labels."""
        a, b = items[first[idx]], items[second[idx]]
        if window is not None:
            a, b = temporal_crop(a, *window), temporal_crop(b, *window)
        s1, s2 = ensemble.member_score(member, a), ensemble.member_score(member, b)
        return bradley_terry_loss(s1, s2, (target if targets is None else targets)[idx], margin=config.margin,
                                  noise=config.noise, label_smoothing=config.label_smoothing,
                                  weight=None if weight is None else weight[idx])

    def pseudo_loss(member: int, n_pairs: int, gen: torch.Generator, window: tuple[int, int] | None) -> torch.Tensor:
        """SURF: λ · the pseudo-label loss of ``n_pairs`` random unlabelled pairs (labels read uncropped)."""
        assert unl is not None
        pairs = torch.randint(len(unl), (n_pairs, 2), generator=gen).to(device)
        a, b = unl[pairs[:, 0]], unl[pairs[:, 1]]
        with torch.no_grad():
            clean = ensemble.member_score(member, a) - ensemble.member_score(member, b)
        if window is not None:
            a, b = temporal_crop(a, *window), temporal_crop(b, *window)
        aug = ensemble.member_score(member, a) - ensemble.member_score(member, b)
        confident = torch.maximum(torch.sigmoid(clean), torch.sigmoid(-clean)) > tech.surf.threshold
        surf_counts[0] += int(confident.sum())
        surf_counts[1] += n_pairs
        return tech.surf.weight * pseudo_label_loss(aug, clean, tech.surf.threshold)

    torch_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    val_t = torch.as_tensor(val_idx, device=device, dtype=torch.long)
    # Dropout draws from torch's global generator: seed it from ``rng`` inside a fork, so the same seed gives the
    # same weights whatever the caller's global RNG state, and that state is left as it was.
    dropout_seed = int(rng.integers(2**31))
    fork_devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    # Without dropout the global generator is never touched, so training may run in a thread beside code that
    # samples from it (the loop's asynchronous refits beside PPO) without disturbing that code's draws.
    uses_dropout = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in ensemble.modules())

    def fit_member(e: int, idx: np.ndarray, gen: torch.Generator) -> _MemberResult:
        """Train member ``e`` on pairs ``idx``; keeps its best epoch."""
        member = ensemble.members[e]
        idx_t = torch.as_tensor(idx, device=device, dtype=torch.long)
        opt = torch.optim.AdamW(member.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        best = (math.inf, copy.deepcopy(member.state_dict()), math.nan)
        stale = 0
        epoch = 0
        stopped = False
        trust = TrustFilter(tech.rime) if tech.rime.enabled else None
        fractions = (math.nan, math.nan)
        member.train()
        for epoch in range(1, config.epochs + 1):  # noqa: B007 (read after the loop: epochs run)
            epoch_targets = None
            perm = torch.randperm(len(idx_t), generator=gen).to(device)
            if trust is not None:
                # RIME: judge every label by the loss the member gives it now; drop the suspect, flip the absurd.
                with torch.no_grad():
                    member.eval()
                    losses = label_losses(logits_of(e, idx_t), target[idx_t])
                    member.train()
                trusted, flipped = trust.split(losses)
                epoch_targets = target.clone()
                epoch_targets[idx_t[flipped]] = 1.0 - target[idx_t[flipped]]
                used = trusted | flipped
                perm = perm[used[perm]]
                fractions = (float(trusted.float().mean()), float(flipped.float().mean()))
            order = idx_t[perm]
            total, count = 0.0, 0
            correct, decisive = 0, 0
            for start in range(0, len(order), config.batch_size):
                mb = order[start : start + config.batch_size]
                window = crop_window(items.shape[1], tech.crop_steps, gen) if tech.crop_steps else None
                if tech.stop_accuracy is None:
                    loss = loss_of(e, mb, epoch_targets, window)
                else:  # B-Pref's stop counts the epoch's minibatch accuracy, as its trainer does
                    t = (target if epoch_targets is None else epoch_targets)[mb]
                    logits = logits_of(e, mb, window)
                    loss = bradley_terry_loss(logits, torch.zeros_like(logits), t, margin=config.margin,
                                              noise=config.noise, label_smoothing=config.label_smoothing,
                                              weight=None if weight is None else weight[mb])
                    sure = t != 0.5
                    correct += int(((logits[sure] > 0) == (t[sure] > 0.5)).sum())
                    decisive += int(sure.sum())
                labelled_loss = loss
                if unl is not None:  # the pseudo-label term trains, but the reported loss stays the labels' own
                    loss = loss + pseudo_loss(e, math.ceil(tech.surf.ratio * len(mb)), gen, window)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += labelled_loss.item() * len(mb)
                count += len(mb)
            train_loss = total / max(count, 1)
            stopped = tech.stop_accuracy is not None and decisive > 0 and correct / decisive >= tech.stop_accuracy
            if len(val_t) == 0:
                best = (train_loss, copy.deepcopy(member.state_dict()), train_loss)
                if stopped:
                    break
                continue
            member.eval()
            with torch.no_grad():
                val_loss = float(loss_of(e, val_t))
            member.train()
            if val_loss < best[0] - 1e-4:
                best, stale = (val_loss, copy.deepcopy(member.state_dict()), train_loss), 0
            else:
                stale += 1
            if config.regularisation == "adaptive_l2":
                ratio = val_loss / max(train_loss, 1e-8)
                low, high = config.adaptive_l2_band
                for group in opt.param_groups:
                    if ratio > high:
                        group["weight_decay"] = group["weight_decay"] * 1.5 + 1e-6
                    elif ratio < low:
                        group["weight_decay"] = group["weight_decay"] / 1.5
            if stopped or (config.regularisation != "none" and stale >= config.patience):
                break
        member.load_state_dict(best[1])
        member.eval()
        return _MemberResult((best[0] if len(val_t) else math.nan), best[2], epoch,
                             float(opt.param_groups[0]["weight_decay"]), stopped, *fractions)

    results: list[_MemberResult] = []
    if config.workers > 1 and not uses_dropout and ensemble.size > 1:
        samples = [rng.choice(train_idx, size=len(train_idx), replace=True) if config.bootstrap else train_idx
                   for _ in range(ensemble.size)]
        gens = [torch.Generator().manual_seed(int(rng.integers(2**31))) for _ in range(ensemble.size)]
        with ThreadPoolExecutor(max_workers=min(config.workers, ensemble.size)) as pool:
            results = list(pool.map(fit_member, range(ensemble.size), samples, gens))
    else:
        with torch.random.fork_rng(devices=fork_devices) if uses_dropout else contextlib.nullcontext():
            if uses_dropout:
                torch.manual_seed(dropout_seed)
            for e in range(ensemble.size):
                idx = rng.choice(train_idx, size=len(train_idx), replace=True) if config.bootstrap else train_idx
                results.append(fit_member(e, idx, torch_gen))
    val_losses = [r.val_loss for r in results]
    train_losses = [r.train_loss for r in results]

    with torch.no_grad():
        scores = ensemble.item_scores(items).mean(0)  # (N,) ensemble-mean item scores
    tr = torch.as_tensor(train_idx, device=device, dtype=torch.long)
    return RewardTrainerMetrics(
        n_train=len(train_idx),
        n_val=len(val_idx),
        n_ties=int((target == 0.5).sum()),
        train_loss=float(np.mean(train_losses)),
        val_loss=float(np.mean(val_losses)) if len(val_t) else math.nan,
        train_accuracy=_accuracy(scores[first[tr]], scores[second[tr]], target[tr]),
        val_accuracy=_accuracy(scores[first[val_t]], scores[second[val_t]], target[val_t]) if len(val_t) else math.nan,
        epochs=[r.epochs for r in results],
        weight_decay=[r.weight_decay for r in results],
        stopped_by_accuracy=[r.stopped for r in results],
        trusted_fraction=float(np.mean([r.trusted for r in results])) if tech.rime.enabled else math.nan,
        flipped_fraction=float(np.mean([r.flipped for r in results])) if tech.rime.enabled else math.nan,
        pseudo_labelled_fraction=surf_counts[0] / surf_counts[1] if surf_counts[1] else math.nan,
        self_predictive=reed_metrics,
    )


@dataclass
class _MemberResult:
    """What fitting one member returned."""

    val_loss: float
    train_loss: float
    epochs: int
    weight_decay: float
    stopped: bool
    trusted: float
    flipped: float
