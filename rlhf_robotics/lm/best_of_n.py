"""Best-of-n: sample n responses from the SFT model and keep the one the reward model scores highest.

No training; its KL from the SFT model is known in closed form, log n − (n − 1)/n (Stiennon et al. 2020).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from rlhf_robotics.lm.evaluate import Decoder
from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.sampling import encode_prompts, generate
from rlhf_robotics.lm.tasks import Problem
from rlhf_robotics.preference import RewardEnsemble


def best_of_n_kl(n: int) -> float:
    """Analytic KL(best-of-n ‖ π) in nats: log n − (n − 1)/n."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def best_of_n_decoder(
    policy: CausalLM, reward_model: RewardEnsemble, n: int, max_new_tokens: int, generator: torch.Generator,
    temperature: float = 1.0, batch_size: int = 256,
) -> Decoder:
    """A :data:`Decoder` that answers each problem with the highest-reward of ``n`` samples."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")

    @torch.no_grad()
    def decode(problems: Sequence[Problem]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(problems), batch_size):
            chunk = [p for p in problems[i : i + batch_size] for _ in range(n)]
            ids = encode_prompts(chunk, policy.config.block_size, max_new_tokens, policy.tokenizer)
            roll = generate(policy, ids, max_new_tokens, temperature=temperature, generator=generator)
            scores = reward_model.reward(roll.tokens).view(-1, n)  # (P, n)
            best = scores.argmax(1)
            out += [roll.texts[k * n + int(j)] for k, j in enumerate(best)]
        return out

    return decode
