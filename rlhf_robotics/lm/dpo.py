"""DPO and its variants on the comparisons in the shared store (Rafailov et al. 2023).

With h = [log π(y₁|x) − log π_ref(y₁|x)] − [log π(y₂|x) − log π_ref(y₂|x)] and target t = P(y₁ ≻ y₂):

- ``sigmoid`` (DPO, eq. 7): −log σ(β·h) on decisive pairs oriented chosen-first; ties are dropped (as TRL).
- ``ipo`` (Azar et al. 2023, eq. 17): (h − (2t − 1)/(2β))²; a tie (t = ½) pulls h to 0.
- ``tie_aware``: the shared core's Bradley–Terry loss on the implicit rewards β·log(π/π_ref) with soft
  targets, −[t·log σ(β h) + (1 − t)·log σ(−β h)], so ties count as ½ instead of being thrown away.

Every loss is ln 2 (sigmoid, tie-aware) or (1/2β)² (IPO on decisive pairs) when π = π_ref.

Protecting the SFT model (issue 14): a share ``val_fraction`` of the comparisons is held out, and every
``check_every`` steps the policy's held-out preference accuracy and its KL from the reference (sampled on the
held-out prompts) are measured. The policy kept is the one with the best held-out accuracy among those within
``kl_budget``; training stops at the first check past the budget or after ``patience`` checks without a better
accuracy.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.sampling import TOKENIZER, encode_completions, sequence_logprob
from rlhf_robotics.lm.tokenizer import Tokenizer
from rlhf_robotics.preference import PreferenceStore, bradley_terry_loss
from rlhf_robotics.preference.items import text_comparisons

DPOLoss = Literal["sigmoid", "ipo", "tie_aware"]


def check_kl_budget(stage: str, budget: float | None) -> None:
    """Raise a ``ValueError`` naming ``<stage>.kl_budget`` unless it is None or a number > 0."""
    if budget is not None and not budget > 0:
        raise ValueError(f"{stage}.kl_budget={budget!r}: must be > 0 (nats per response), or null for no budget")


def dpo_sigmoid_loss(h: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """``(B,)`` log-ratio differences, targets in {0, 1} (ties must be removed) → mean −log σ(β·h·sign)."""
    sign = 2 * target - 1  # +1 when the first is chosen, −1 when the second is
    return -F.logsigmoid(beta * h * sign).mean()


def ipo_loss(h: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """IPO's squared loss toward the margin (2t − 1)/(2β)."""
    return ((h - (2 * target - 1) / (2 * beta)) ** 2).mean()


def tie_aware_loss(h: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """Bradley–Terry cross-entropy with soft targets on β·h (the shared core's loss)."""
    return bradley_terry_loss(beta * h, torch.zeros_like(h), target)


DPO_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "sigmoid": dpo_sigmoid_loss,
    "ipo": ipo_loss,
    "tie_aware": tie_aware_loss,
}


@dataclass
class DPOConfig:
    """Hyperparameters of DPO."""

    loss: DPOLoss = "tie_aware"
    """``sigmoid`` (drops ties), ``ipo`` or ``tie_aware``."""
    beta: float = 0.1
    """Strength of the implicit KL constraint (TRL's default 0.1)."""
    epochs: int = 3
    """Passes over the comparisons."""
    batch_size: int = 32
    """Pairs per step."""
    lr: float = 1e-4
    """Adam learning rate."""
    seed: int = 4
    """Seed of the minibatch order."""
    kl_budget: float | None = 2.0
    """Most KL(π ‖ π_ref) per response (nats) allowed: training stops at the first check past it, and only
    policies within it can be kept (None: no budget)."""
    val_fraction: float = 0.1
    """Share of the comparisons held out to choose the policy by preference accuracy (0: keep the last one)."""
    check_every: int = 10
    """Steps between checks of held-out accuracy and KL."""
    patience: int = 6
    """Checks without a better held-out accuracy before training stops."""
    kl_prompts: int = 64
    """Held-out prompts sampled to estimate the KL at each check."""
    max_new_tokens: int = 4
    """Response budget of the samples that estimate the KL (as the evaluation's)."""

    def __post_init__(self) -> None:
        check_kl_budget("dpo", self.kl_budget)
        if self.loss not in DPO_LOSSES:
            raise ValueError(f"loss={self.loss!r}; expected one of {', '.join(DPO_LOSSES)}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"dpo.val_fraction={self.val_fraction!r}: must be in [0, 1)")
        if self.check_every < 1 or self.patience < 1 or self.kl_prompts < 1:
            raise ValueError(f"check_every, patience and kl_prompts must be >= 1, got {self.check_every}, "
                             f"{self.patience}, {self.kl_prompts}")


@dataclass
class DPOMetrics:
    """What a DPO run did; logged under ``dpo/``."""

    loss: list[float] = field(default_factory=list)
    """Loss per step."""
    accuracy: list[float] = field(default_factory=list)
    """Share of decisive pairs per step whose implicit reward orders them like the label."""
    pairs: int = 0
    """Comparisons trained on (ties included unless the loss drops them)."""
    ties: int = 0
    """Comparisons with target ½."""
    check_step: list[int] = field(default_factory=list)
    """Step of each check."""
    val_accuracy: list[float] = field(default_factory=list)
    """Held-out preference accuracy (decisive pairs) at each check."""
    kl: list[float] = field(default_factory=list)
    """Estimated KL(π ‖ π_ref) per response at each check (nats)."""
    kept_step: int = 0
    """Step of the policy returned (0: the reference itself)."""
    stopped: str = "epochs"
    """Why training ended: ``epochs``, ``kl_budget`` or ``patience``."""
    seconds: float = 0.0
    """Wall time."""


@dataclass
class PreferencePairs:
    """Tokenised comparisons: both completions of every pair and P(first ≻ second)."""

    first: torch.Tensor
    """``(P, L)`` ids of prompt + first response."""
    first_mask: torch.Tensor
    """``(P, L-1)`` response mask of ``first``."""
    second: torch.Tensor
    """``(P, L)``."""
    second_mask: torch.Tensor
    """``(P, L-1)``."""
    target: torch.Tensor
    """``(P,)`` in [0, 1]."""
    prompts: list[str] = field(default_factory=list)
    """The prompt of every pair."""

    def __len__(self) -> int:
        return len(self.target)


def preference_pairs(store: PreferenceStore, block_size: int, tokenizer: Tokenizer = TOKENIZER) -> PreferencePairs:
    """The labelled comparisons of two text items in ``store``, with their aggregated targets."""
    prompts, a, b, t = [], [], [], []
    for _, first, second, target in text_comparisons(store):
        if first.prompt != second.prompt:
            raise ValueError(f"items {first.id!r} and {second.id!r} answer different prompts; DPO compares two "
                             "responses to one prompt")
        prompts.append(first.prompt)
        a.append(first.response)
        b.append(second.response)
        t.append(target)
    if not t:
        raise ValueError(f"the store {store.path} holds no labelled LM comparisons; run the reward stage first")
    # One length for both sides, so a pair's two rows line up.
    both, both_mask = encode_completions(prompts + prompts, a + b, block_size, tokenizer)
    n = len(t)
    return PreferencePairs(both[:n], both_mask[:n], both[n:], both_mask[n:], torch.tensor(t, dtype=torch.float32),
                           prompts)


def log_ratio_difference(policy: CausalLM, reference: CausalLM, pairs: PreferencePairs, idx: torch.Tensor) -> torch.Tensor:
    """h for the pairs ``idx``: ``(B,)``. Gradients flow through ``policy`` only."""
    tokens = torch.cat([pairs.first[idx], pairs.second[idx]])
    mask = torch.cat([pairs.first_mask[idx], pairs.second_mask[idx]])
    logp = sequence_logprob(policy, tokens, mask)
    with torch.no_grad():
        ref = sequence_logprob(reference, tokens, mask)
    ratio = (logp - ref).view(2, -1)
    return ratio[0] - ratio[1]


@torch.no_grad()
def held_out_accuracy(policy: CausalLM, reference: CausalLM, pairs: PreferencePairs, idx: torch.Tensor) -> float:
    """Share of the decisive pairs ``idx`` whose implicit reward orders them like the label (h = 0 counts ½)."""
    idx = idx[pairs.target[idx] != 0.5]
    if len(idx) == 0:
        return float("nan")
    h = torch.cat([log_ratio_difference(policy, reference, pairs, chunk) for chunk in idx.split(256)])
    right = torch.where(h == 0, torch.full_like(h, 0.5), ((h > 0) == (pairs.target[idx] > 0.5)).float())
    return float(right.mean())


def train_dpo(policy: CausalLM, reference: CausalLM, store_path: str | Path, config: DPOConfig) -> tuple[CausalLM, DPOMetrics]:
    """Fine-tune a copy of ``policy`` with DPO on the comparisons stored at ``store_path``.

    Returns the policy with the best held-out accuracy within ``config.kl_budget`` (see the module docstring).
    """
    from rlhf_robotics.lm.evaluate import kl_from_reference
    from rlhf_robotics.lm.tasks import Problem

    start = time.perf_counter()
    if not Path(store_path).is_file():
        raise FileNotFoundError(f"no preference store at {store_path}; run the reward stage (`rlhf-robotics lm reward`) first")
    with PreferenceStore(store_path) as store:
        pairs = preference_pairs(store, policy.config.block_size, policy.tokenizer)
    gen = torch.Generator().manual_seed(config.seed)
    n_val = int(round(config.val_fraction * len(pairs)))
    shuffled = torch.randperm(len(pairs), generator=gen) if n_val else torch.arange(len(pairs))
    val, keep = shuffled[:n_val], shuffled[n_val:]
    if config.loss == "sigmoid":
        keep = keep[pairs.target[keep] != 0.5]
    if len(keep) == 0:
        raise ValueError("every comparison is a tie; the sigmoid DPO loss has nothing to learn — use loss=tie_aware or ipo")
    policy = copy.deepcopy(policy).train()
    reference = reference.eval()
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    loss_fn = DPO_LOSSES[config.loss]
    metrics = DPOMetrics(pairs=len(keep), ties=int((pairs.target[keep] == 0.5).sum()))
    kl_source = val if len(val) else keep
    kl_problems = [Problem("", pairs.prompts[int(i)], "") for i in kl_source[: config.kl_prompts]]
    kl_gen = torch.Generator().manual_seed(config.seed + 1)
    best_state = copy.deepcopy(policy.state_dict())
    best_acc, since_best, step = -1.0, 0, 0

    def check() -> bool:
        """Measure, keep the policy if it is the best within budget; True when training should stop."""
        nonlocal best_state, best_acc, since_best
        policy.eval()
        kl = kl_from_reference(policy, reference, kl_problems, config.max_new_tokens, kl_gen) if \
            config.kl_budget is not None else float("nan")
        acc = held_out_accuracy(policy, reference, pairs, val) if len(val) else float(step)
        policy.train()
        metrics.check_step.append(step)
        metrics.kl.append(kl)
        metrics.val_accuracy.append(acc)
        if config.kl_budget is not None and kl > config.kl_budget:
            metrics.stopped = "kl_budget"
            return True
        if acc > best_acc:  # without a held-out set, `acc` is the step: the last policy within budget wins
            best_acc, since_best, metrics.kept_step = acc, 0, step
            best_state = copy.deepcopy(policy.state_dict())
            return False
        since_best += 1
        if since_best >= config.patience and len(val):
            metrics.stopped = "patience"
            return True
        return False

    stop = check()
    for _ in range(config.epochs):
        if stop:
            break
        order = keep[torch.randperm(len(keep), generator=gen)]
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            h = log_ratio_difference(policy, reference, pairs, idx)
            target = pairs.target[idx]
            loss = loss_fn(h, target, config.beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            step += 1
            decisive = target != 0.5
            acc = float(((h[decisive] > 0) == (target[decisive] > 0.5)).float().mean()) if bool(decisive.any()) else np.nan
            metrics.loss.append(float(loss.detach()))
            metrics.accuracy.append(acc)
            if step % config.check_every == 0 and check():
                stop = True
                break
    if not stop and (not metrics.check_step or metrics.check_step[-1] != step):
        check()
    policy.load_state_dict(best_state)
    metrics.seconds = time.perf_counter() - start
    return policy.eval(), metrics
