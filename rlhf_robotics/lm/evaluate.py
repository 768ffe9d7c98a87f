"""Evaluation on the held-out prompts: exact match (greedy decoding), gold score, and KL from the SFT model.

The KL is estimated on responses sampled from the policy at temperature 1:
KL(π ‖ π_SFT) ≈ mean over samples of Σ_t [log π(y_t | ·) − log π_SFT(y_t | ·)] (nats per response).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.sampling import Rollout, encode_prompts, generate, sequence_logprob
from rlhf_robotics.lm.tasks import Problem, TaskMix


@dataclass
class TaskScores:
    """Scores of one policy on one task's held-out prompts."""

    exact_match: float
    """Share of prompts whose greedy response the verifier accepts, in [0, 1]."""
    gold: float
    """Mean hidden gold score of the greedy responses, in [0, 1]."""
    exact_match_sampled: float
    """Share of prompts whose response sampled at temperature 1 is accepted (pass@1; nan if not measured)."""
    n: int
    """Held-out prompts scored."""
    gold_sampled: float = float("nan")
    """Mean gold score of the sampled responses (nan if not measured)."""


@dataclass
class EvalResult:
    """Scores of one policy (a stage) over every task; logged under ``eval/<stage>/``."""

    stage: str
    """Name of the stage that produced the policy."""
    tasks: dict[str, TaskScores] = field(default_factory=dict)
    """Task name → scores."""
    kl_from_sft: float = float("nan")
    """Estimated KL(π ‖ π_SFT) per response in nats (nan when not measured)."""
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """A few (prompt, response) pairs per task."""

    @property
    def exact_match(self) -> float:
        """Mean exact match over tasks."""
        return float(np.mean([s.exact_match for s in self.tasks.values()]))

    @property
    def exact_match_sampled(self) -> float:
        """Mean sampled (pass@1) exact match over tasks."""
        return float(np.mean([s.exact_match_sampled for s in self.tasks.values()]))

    @property
    def gold(self) -> float:
        """Mean gold score over tasks."""
        return float(np.mean([s.gold for s in self.tasks.values()]))

    @property
    def gold_sampled(self) -> float:
        """Mean gold score of the sampled responses over tasks."""
        return float(np.mean([s.gold_sampled for s in self.tasks.values()]))


Decoder = Callable[[Sequence[Problem]], list[str]]
"""Maps problems to responses (greedy decoding by default; best-of-n plugs in here)."""


def greedy_decoder(model: CausalLM, max_new_tokens: int, batch_size: int = 512) -> Decoder:
    def decode(problems: Sequence[Problem]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(problems), batch_size):
            chunk = problems[i : i + batch_size]
            ids = encode_prompts(chunk, model.config.block_size, max_new_tokens, model.tokenizer)
            out += generate(model, ids, max_new_tokens, greedy=True).texts
        return out

    return decode


def sampling_decoder(model: CausalLM, max_new_tokens: int, generator: torch.Generator, batch_size: int = 512) -> Decoder:
    def decode(problems: Sequence[Problem]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(problems), batch_size):
            chunk = problems[i : i + batch_size]
            ids = encode_prompts(chunk, model.config.block_size, max_new_tokens, model.tokenizer)
            out += generate(model, ids, max_new_tokens, generator=generator).texts
        return out

    return decode


def evaluate(stage: str, decode: Decoder, mix: TaskMix, sample: Decoder | None = None, n_examples: int = 3) -> EvalResult:
    """Exact match and gold score of ``decode``'s responses to every task's held-out prompts.

    Args:
        stage: the row's name.
        decode: the policy's deployed decoding (greedy, or best-of-n).
        mix: the tasks and their held-out prompts.
        sample: optional sampling decoder for the pass@1 exact match and gold at temperature 1 (for best-of-n:
            its base policy's sampling at the same temperature, the baseline best-of-n must beat).
        n_examples: (prompt, response) pairs to keep per task.
    """
    result = EvalResult(stage)
    for name, problems in mix.eval.items():
        responses = decode(problems)
        task = mix.tasks[name]
        em = [task.verify(p, r) for p, r in zip(problems, responses, strict=True)]
        gold = [task.gold(p, r) for p, r in zip(problems, responses, strict=True)]
        sampled = gold_sampled = float("nan")
        if sample is not None:
            pairs = list(zip(problems, sample(problems), strict=True))
            sampled = float(np.mean([task.verify(p, r) for p, r in pairs]))
            gold_sampled = float(np.mean([task.gold(p, r) for p, r in pairs]))
        result.tasks[name] = TaskScores(float(np.mean(em)), float(np.mean(gold)), sampled, len(problems), gold_sampled)
        result.examples[name] = [(p.prompt, r) for p, r in list(zip(problems, responses, strict=True))[:n_examples]]
    return result


@torch.no_grad()
def kl_from_reference(
    policy: CausalLM,
    reference: CausalLM,
    problems: Sequence[Problem],
    max_new_tokens: int,
    generator: torch.Generator,
    batch_size: int = 512,
) -> float:
    """Monte-Carlo KL(π ‖ π_ref) per response (nats), from one sample of ``policy`` per problem."""
    total, count = 0.0, 0
    for i in range(0, len(problems), batch_size):
        chunk = problems[i : i + batch_size]
        ids = encode_prompts(chunk, policy.config.block_size, max_new_tokens, policy.tokenizer)
        roll: Rollout = generate(policy, ids, max_new_tokens, generator=generator)
        diff = sequence_logprob(policy, roll.tokens, roll.response_mask) - sequence_logprob(
            reference, roll.tokens, roll.response_mask
        )
        total += float(diff.sum())
        count += len(chunk)
    return total / max(count, 1)
