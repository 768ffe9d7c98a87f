"""GRPO and RLOO with verifiable rewards: outcome (the verifier), rubric (partial credit) or process (one
reward per written step).

For every prompt a group of G responses is sampled; advantages compare each response with its group:

- GRPO (Shao et al. 2024, DeepSeekMath eq. 3): Â_i = (r_i − mean(r)) / (std(r) + 1e-4), the KL to the
  reference enters the loss through the k3 estimator, β · (π_ref/π − log(π_ref/π) − 1).
- RLOO (Ahmadian et al. 2024): the KL enters the reward, r_i ← r_i − β·KL_i, and the baseline of sample i is
  the mean of the *other* G − 1 rewards: Â_i = r_i − (Σ_j r_j − r_i)/(G − 1).
- Process supervision (DeepSeekMath §4.1.3): step rewards are normalised over the whole group and a token's
  advantage is the sum of the normalised rewards of the steps that end at or after it.

The policy gradient is PPO's clipped surrogate (with ``epochs = 1`` the ratio is 1 and it is plain
REINFORCE with the group baseline).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.sampling import encode_prompts, generate, response_logprobs
from rlhf_robotics.lm.tasks import Problem, TaskMix, check_tasks

Estimator = Literal["grpo", "rloo"]
RewardKind = Literal["outcome", "rubric", "process"]


def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """``(P, G)`` rewards → ``(P, G)`` group-normalised advantages (r − mean) / (std + eps); std unbiased as TRL."""
    std = rewards.std(dim=1, keepdim=True) if rewards.shape[1] > 1 else torch.zeros_like(rewards[:, :1])
    return (rewards - rewards.mean(dim=1, keepdim=True)) / (std + eps)


def rloo_baseline(rewards: torch.Tensor) -> torch.Tensor:
    """``(P, G)`` → the leave-one-out baseline of each sample: the mean of the other G − 1 rewards."""
    g = rewards.shape[1]
    if g < 2:
        raise ValueError(f"RLOO needs a group of at least 2 samples per prompt, got group_size={g}")
    return (rewards.sum(dim=1, keepdim=True) - rewards) / (g - 1)


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """``(P, G)`` → ``r − leave-one-out baseline``."""
    return rewards - rloo_baseline(rewards)


ADVANTAGES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"grpo": grpo_advantages, "rloo": rloo_advantages}


def process_advantages(
    steps: list[list[tuple[int, float]]], group_size: int, n_positions: int, start: torch.Tensor, eps: float = 1e-4
) -> torch.Tensor:
    """Token advantages ``(B, n_positions)`` from step rewards (DeepSeekMath process supervision).

    Args:
        steps: per sample, ``(index of the step's last response character, reward)``; B = P · G samples, the G
            samples of a prompt consecutive.
        group_size: G.
        n_positions: columns of the log-prob tensor (T − 1).
        start: ``(B,)`` column of each sample's first response token.
    """
    out = torch.zeros(len(steps), n_positions)
    for g0 in range(0, len(steps), group_size):
        group = steps[g0 : g0 + group_size]
        values = np.array([r for sample in group for _, r in sample], dtype=np.float64)
        mean, std = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
        for k, sample in enumerate(group):
            row = g0 + k
            for end, r in sample:
                col = int(start[row]) + end
                out[row, : min(col, n_positions - 1) + 1] += (r - mean) / (std + eps)
    return out


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(π ‖ π_ref): exp(Δ) − Δ − 1 with Δ = log π_ref − log π (≥ 0, unbiased)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's per-token loss −min(ρ·Â, clip(ρ, 1 ± ε)·Â), ρ = π/π_old (Schulman et al. 2017, eq. 7)."""
    ratio = torch.exp(logp - old_logp)
    return -torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)


@dataclass
class GRPOConfig:
    """Hyperparameters of GRPO / RLOO."""

    tasks: tuple[str, ...] = ("arithmetic",)
    """Tasks whose prompts are trained on."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    estimator: Estimator = "grpo"
    """Advantage estimator: ``grpo`` (group-normalised) or ``rloo`` (leave-one-out)."""
    reward: RewardKind = "outcome"
    """``outcome`` (verifier, 0/1), ``rubric`` (partial credit in [0, 1]) or ``process`` (per written step)."""
    steps: int = 100
    """Policy updates (each on a fresh batch of prompts)."""
    prompts_per_step: int = 32
    """Prompts per update."""
    group_size: int = 8
    """Responses sampled per prompt (G)."""
    epochs: int = 1
    """Gradient passes over each batch (1 = on-policy, ratio 1)."""
    lr: float = 2e-4
    """Adam learning rate."""
    beta: float = 0.02
    """KL coefficient to the SFT model (GRPO: in the loss, k3; RLOO: in the reward)."""
    clip: float = 0.2
    """PPO clip range ε."""
    temperature: float = 1.0
    """Sampling temperature."""
    max_new_tokens: int = 6
    """Most response tokens, EOS included."""
    seed: int = 3
    """Seed of prompts and samples."""

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if self.estimator not in ADVANTAGES:
            raise ValueError(f"estimator={self.estimator!r}; expected one of {', '.join(ADVANTAGES)}")
        if self.reward not in ("outcome", "rubric", "process"):
            raise ValueError(f"reward={self.reward!r}; expected outcome, rubric or process")
        if self.reward == "process" and self.estimator != "grpo":
            raise ValueError("process rewards use GRPO's group normalisation; set estimator=grpo")
        if self.group_size < 2:
            raise ValueError(f"group_size must be >= 2 to compare responses within a group, got {self.group_size}")
        if self.steps < 1 or self.prompts_per_step < 1:
            raise ValueError(f"steps and prompts_per_step must be >= 1, got {self.steps}, {self.prompts_per_step}")


@dataclass
class GRPOMetrics:
    """What a GRPO/RLOO run did; logged under ``grpo/`` or ``rloo/``."""

    reward: list[float] = field(default_factory=list)
    """Mean training reward per step."""
    accuracy: list[float] = field(default_factory=list)
    """Share of sampled responses the verifier accepts, per step."""
    kl: list[float] = field(default_factory=list)
    """Mean per-response KL(π ‖ π_SFT) estimate (sum of k3 over tokens) per step."""
    loss: list[float] = field(default_factory=list)
    """Loss of the last epoch per step."""
    seconds: float = 0.0
    """Wall time."""


def score(mix: TaskMix, problems: list[Problem], texts: list[str], kind: RewardKind) -> list[float]:
    """Scalar reward per response: verifier (0/1) or rubric."""
    if kind == "rubric":
        return [mix.task(p).rubric.score((p, t)) for p, t in zip(problems, texts, strict=True)]
    return [float(mix.verify(p, t)) for p, t in zip(problems, texts, strict=True)]


def train_grpo(policy: CausalLM, reference: CausalLM, config: GRPOConfig) -> tuple[CausalLM, GRPOMetrics]:
    """Optimise a copy of ``policy`` on verifiable rewards; ``reference`` (the SFT model) stays frozen."""
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    policy = copy.deepcopy(policy)
    reference = reference.eval()
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    metrics = GRPOMetrics()
    start = time.perf_counter()
    g = config.group_size
    for _ in range(config.steps):
        problems = [p for p in mix.sample(rng, config.prompts_per_step) for _ in range(g)]  # (B = P·G)
        ids = encode_prompts(problems, policy.config.block_size, config.max_new_tokens, policy.tokenizer)
        roll = generate(policy, ids, config.max_new_tokens, temperature=config.temperature, generator=gen)
        tokens, mask = roll.tokens, roll.response_mask.float()  # (B, T), (B, T-1)
        with torch.no_grad():
            old_logp = response_logprobs(policy, tokens, roll.response_mask)
            ref_logp = response_logprobs(reference, tokens, roll.response_mask)
        correct = [float(mix.verify(p, t)) for p, t in zip(problems, roll.texts, strict=True)]
        if config.reward == "process":
            steps = [mix.task(p).step_rewards(p, t) for p, t in zip(problems, roll.texts, strict=True)]
            first_col = roll.response_mask.float().argmax(1)
            adv = process_advantages(steps, g, mask.shape[1], first_col) * mask
            mean_reward = float(np.mean([np.mean([r for _, r in s]) for s in steps]))
        else:
            rewards = torch.tensor(score(mix, problems, roll.texts, config.reward)).view(-1, g)  # (P, G)
            mean_reward = float(rewards.mean())
            if config.estimator == "rloo":  # KL in the reward
                seq_kl = ((old_logp - ref_logp) * mask).sum(1).view(-1, g)
                rewards = rewards - config.beta * seq_kl
            adv = ADVANTAGES[config.estimator](rewards).reshape(-1, 1) * mask  # (B, T-1)
        n_tok = mask.sum(1).clamp_min(1.0)
        for _ in range(config.epochs):
            logp = response_logprobs(policy, tokens, roll.response_mask)
            per_token = clipped_surrogate(logp, old_logp, adv, config.clip)
            kl = kl_k3(logp, ref_logp) * mask
            if config.estimator == "grpo" and config.beta > 0:
                per_token = per_token + config.beta * kl
            loss = ((per_token * mask).sum(1) / n_tok).mean()  # per-sequence mean, then batch mean (GRPO)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
        metrics.reward.append(mean_reward)
        metrics.accuracy.append(float(np.mean(correct)))
        metrics.kl.append(float(kl.detach().sum(1).mean()))
        metrics.loss.append(float(loss.detach()))
    metrics.seconds = time.perf_counter() - start
    return policy.eval(), metrics
