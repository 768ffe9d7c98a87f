"""PPO against the learned reward with a per-token KL penalty to the SFT model (Ziegler et al. 2019;
Ouyang et al. 2022), with a value head, GAE and a fixed or adaptive KL coefficient.

Per response token t the reward is r_t = −β·(log π(y_t) − log π_SFT(y_t)), and the last token also gets the
reward model's normalised score of prompt + response. Advantages come from GAE(γ, λ) over the response
tokens (Schulman et al. 2016); the policy loss is PPO's clipped surrogate and the value loss a squared error.
The adaptive controller (Ziegler et al. 2019, §2.2) moves β so the measured KL tracks ``kl_target``.
A hard ``kl_budget`` (issue 14) ends training when a rollout's KL passes it and keeps the policy before.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rlhf_robotics.lm.dpo import check_kl_budget
from rlhf_robotics.lm.grpo import clipped_surrogate
from rlhf_robotics.lm.model import CausalLM, token_logprobs
from rlhf_robotics.lm.sampling import encode_prompts, generate, response_logprobs
from rlhf_robotics.lm.tasks import TaskMix, check_tasks
from rlhf_robotics.preference import RewardEnsemble


@dataclass
class PPOConfig:
    """Hyperparameters of PPO with a KL penalty."""

    tasks: tuple[str, ...] = ("arithmetic",)
    """Tasks whose prompts are trained on."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    steps: int = 60
    """Rollout–update iterations."""
    prompts_per_step: int = 64
    """Responses sampled per iteration (one per prompt)."""
    epochs: int = 2
    """PPO epochs over each rollout batch."""
    minibatches: int = 2
    """Minibatches per epoch."""
    lr: float = 1e-4
    """Adam learning rate (policy and value head)."""
    kl_coef: float = 0.05
    """Initial β of the per-token KL penalty."""
    adaptive_kl: bool = True
    """Adapt β toward ``kl_target`` (Ziegler et al. 2019); False keeps it fixed."""
    kl_target: float = 0.5
    """Target KL per response (nats) of the adaptive controller."""
    kl_horizon: int = 2000
    """Horizon (responses) of the adaptive controller."""
    gamma: float = 1.0
    """Discount over response tokens."""
    lam: float = 0.95
    """GAE λ."""
    clip: float = 0.2
    """Policy ratio clip ε."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    temperature: float = 1.0
    """Sampling temperature."""
    max_new_tokens: int = 4
    """Most response tokens, EOS included."""
    seed: int = 5
    """Seed of prompts and samples."""
    kl_budget: float | None = 2.0
    """Most KL(π ‖ π_SFT) per response (nats) allowed: past it training stops and the last policy within the
    budget is kept (None: no budget)."""

    def __post_init__(self) -> None:
        check_kl_budget("ppo", self.kl_budget)
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if self.steps < 1 or self.prompts_per_step < 1 or self.epochs < 1 or self.minibatches < 1:
            raise ValueError("steps, prompts_per_step, epochs and minibatches must all be >= 1")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")


@dataclass
class PPOMetrics:
    """What a PPO run did, per iteration; logged under ``ppo/``. Proxy against gold shows over-optimisation."""

    score: list[float] = field(default_factory=list)
    """Mean normalised reward-model score of the sampled responses (the proxy)."""
    gold: list[float] = field(default_factory=list)
    """Mean hidden gold score of the same responses."""
    kl: list[float] = field(default_factory=list)
    """Mean KL(π ‖ π_SFT) per response (sum over tokens of log π − log π_SFT on the samples); when stopped by the
    budget, one entry longer than the others: the measurement past it."""
    kl_coef: list[float] = field(default_factory=list)
    """β used in the iteration."""
    value_loss: list[float] = field(default_factory=list)
    """Value loss of the last minibatch."""
    stopped: str = "steps"
    """Why training ended: ``steps``, or ``kl_budget`` (the sampled KL passed it; the policy before is kept)."""
    seconds: float = 0.0
    """Wall time."""


class ValueHead(nn.Module):
    """V(s_t) from the policy's hidden state at position t: ``(B, T, C)`` → ``(B, T)``."""

    def __init__(self, n_embd: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_embd, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden).squeeze(-1)


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over masked response positions.

    Args:
        rewards: ``(B, T)`` per-token rewards (0 off the response).
        values: ``(B, T)`` value estimates.
        mask: ``(B, T)`` 1 on response tokens; each row's tokens are contiguous; after the last, V = 0.

    Returns:
        ``(advantages, returns)``, both ``(B, T)`` and 0 off the response.
    """
    b, t = rewards.shape
    adv = torch.zeros(b, t)
    last = torch.zeros(b)
    values = values * mask
    for i in reversed(range(t)):
        next_value = values[:, i + 1] if i + 1 < t else torch.zeros(b)
        delta = rewards[:, i] + gamma * next_value - values[:, i]
        last = (delta + gamma * lam * last) * mask[:, i]
        adv[:, i] = last
    return adv, (adv + values) * mask


def kl_penalty_rewards(logp: torch.Tensor, ref_logp: torch.Tensor, score: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-token rewards ``(B, T)``: −β·(log π − log π_ref) on response tokens, plus ``score`` ``(B,)`` on the last."""
    rewards = -beta * (logp - ref_logp) * mask
    last = (mask * torch.arange(1, mask.shape[1] + 1)).argmax(1)
    rewards[torch.arange(len(score)), last] += score
    return rewards


def train_ppo(
    policy: CausalLM, reference: CausalLM, reward_model: RewardEnsemble, config: PPOConfig
) -> tuple[CausalLM, PPOMetrics]:
    """Optimise a copy of ``policy`` against ``reward_model.reward`` with a KL penalty to ``reference``."""
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    policy = copy.deepcopy(policy)
    value_head = ValueHead(policy.config.n_embd)
    params = list(policy.parameters()) + list(value_head.parameters())
    opt = torch.optim.Adam(params, lr=config.lr)
    reference.eval()
    reward_model.eval()
    beta = config.kl_coef
    metrics = PPOMetrics()
    start = time.perf_counter()
    last_within_budget: Mapping[str, Any] | None = None
    for _ in range(config.steps):
        snapshot = copy.deepcopy(policy.state_dict()) if config.kl_budget is not None else None
        problems = mix.sample(rng, config.prompts_per_step)
        ids = encode_prompts(problems, policy.config.block_size, config.max_new_tokens, policy.tokenizer)
        roll = generate(policy, ids, config.max_new_tokens, temperature=config.temperature, generator=gen)
        tokens, mask = roll.tokens, roll.response_mask.float()  # (B, T), (B, T-1)
        with torch.no_grad():
            logits, hidden = policy.forward_with_hidden(tokens)
            old_logp = token_logprobs(logits, tokens) * mask  # (B, T-1)
            old_values = value_head(hidden[:, :-1]) * mask  # (B, T-1): V before each next token
            ref_logp = response_logprobs(reference, tokens, roll.response_mask)
            score = reward_model.reward(tokens)  # (B,) normalised RM score at the last non-pad token
            rewards = kl_penalty_rewards(old_logp, ref_logp, score, mask, beta)
            adv, returns = gae(rewards, old_values, mask, config.gamma, config.lam)
            flat = adv[mask.bool()]
            adv = (adv - flat.mean()) / (flat.std() + 1e-8) * mask  # whitened over the batch
        kl = float(((old_logp - ref_logp) * mask).sum(1).mean())
        if config.kl_budget is not None and kl > config.kl_budget:  # issue 14: back to the last policy within it
            if last_within_budget is not None:
                policy.load_state_dict(last_within_budget)
            metrics.stopped = "kl_budget"
            metrics.kl.append(kl)  # the measurement past the budget, so the record shows why it stopped
            break
        last_within_budget = snapshot
        n = len(tokens)
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            for mb in order.chunk(config.minibatches):
                logits, hidden = policy.forward_with_hidden(tokens[mb])
                logp = token_logprobs(logits, tokens[mb]) * mask[mb]
                values = value_head(hidden[:, :-1])
                m = mask[mb]
                pg = (clipped_surrogate(logp, old_logp[mb], adv[mb], config.clip) * m).sum() / m.sum()
                vf = (((values - returns[mb]) ** 2) * m).sum() / m.sum()
                loss = pg + config.vf_coef * vf
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
        metrics.score.append(float(score.mean()))
        metrics.gold.append(float(np.mean([mix.gold(p, t) for p, t in zip(problems, roll.texts, strict=True)])))
        metrics.kl.append(kl)
        metrics.kl_coef.append(beta)
        metrics.value_loss.append(float(vf.detach()))
        if config.adaptive_kl:  # Ziegler et al. 2019, eq. (2)
            error = float(np.clip(kl / config.kl_target - 1, -0.2, 0.2))
            beta *= 1 + error * n / config.kl_horizon
    metrics.seconds = time.perf_counter() - start
    return policy.eval(), metrics
