"""Turning problems into id tensors and sampling responses from a policy.

Layout of every sequence: ``[PAD …][BOS][prompt][response][EOS][PAD …]`` — prompts are left-padded so they
all end at the same column; after a row's ``EOS`` it is padded on the right. ``response_mask`` marks the
generated tokens (``EOS`` included), aligned with the ``(B, T-1)`` output of :func:`token_logprobs`.

Every function takes the tokenizer of the model it serves (``model.tokenizer``, the :class:`Tokenizer`
protocol); the default is the character tokenizer of the tiny GPT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rlhf_robotics.lm.model import CausalLM, token_logprobs
from rlhf_robotics.lm.tasks import Problem
from rlhf_robotics.lm.tokenizer import BOS, EOS, PAD, CharTokenizer, Tokenizer

__all__ = ["BOS", "EOS", "PAD", "TOKENIZER", "Rollout", "check_fits", "encode_completions", "encode_prompts",
           "generate", "response_logprobs", "sequence_logprob", "with_bos"]

TOKENIZER = CharTokenizer()


def check_fits(prompt: str, n_tokens: int, block_size: int, max_new_tokens: int) -> None:
    """Raise a ``ValueError`` that names the prompt if it cannot fit with ``max_new_tokens`` in the context."""
    if n_tokens + max_new_tokens > block_size:
        raise ValueError(
            f"prompt {prompt!r} is {n_tokens} tokens (with BOS); with max_new_tokens={max_new_tokens} it needs "
            f"{n_tokens + max_new_tokens} > block_size={block_size}; shorten the prompt, lower max_new_tokens "
            "or pretrain a model with a larger block_size"
        )


def with_bos(tokenizer: Tokenizer, ids: Sequence[int]) -> list[int]:
    """``[bos, *ids]``, or ``ids`` alone when the tokenizer has no BOS."""
    return list(ids) if tokenizer.bos_id is None else [tokenizer.bos_id, *ids]


def encode_prompts(problems: Sequence[Problem], block_size: int, max_new_tokens: int,
                   tokenizer: Tokenizer = TOKENIZER) -> torch.Tensor:
    """``(B, Lp)`` left-padded ``BOS + prompt`` ids.

    Raises:
        ValueError: a prompt does not fit in ``block_size`` together with ``max_new_tokens``.
    """
    rows = []
    for p in problems:
        ids = with_bos(tokenizer, tokenizer.encode(p.prompt))
        check_fits(p.prompt, len(ids), block_size, max_new_tokens)
        rows.append(ids)
    return tokenizer.pad_left(rows)


def encode_completions(prompts: Sequence[str], responses: Sequence[str], block_size: int,
                       tokenizer: Tokenizer = TOKENIZER) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``BOS + prompt + response + EOS`` ids ``(B, L)`` and the response mask ``(B, L-1)``.

    The mask is aligned with :func:`token_logprobs` (entry t is True when token t+1 is response or EOS).

    Raises:
        ValueError: a sequence is longer than ``block_size``.
    """
    rows, n_resp = [], []
    for prompt, response in zip(prompts, responses, strict=True):
        response_ids = [*tokenizer.encode(response), tokenizer.eos_id]
        ids = with_bos(tokenizer, [*tokenizer.encode(prompt), *response_ids])
        if len(ids) > block_size:
            raise ValueError(
                f"prompt {prompt!r} + response {response!r} is {len(ids)} tokens > block_size={block_size}; "
                "shorten them or use a model with a larger block_size"
            )
        rows.append(ids)
        n_resp.append(len(response_ids))
    tokens = tokenizer.pad_left(rows)
    length = tokens.shape[1]
    col = torch.arange(length - 1)
    mask = col[None, :] >= (length - 1 - torch.as_tensor(n_resp))[:, None]
    return tokens, mask


@dataclass
class Rollout:
    """Sampled responses to a batch of prompts."""

    tokens: torch.Tensor
    """``(B, T)`` ids: left-padded prompt, response, EOS, right padding."""
    response_mask: torch.Tensor
    """``(B, T-1)`` bool, True where ``tokens[:, t+1]`` was generated (EOS included)."""
    texts: list[str]
    """Decoded responses (up to EOS)."""
    finished: torch.Tensor
    """``(B,)`` bool, True if the response ended with EOS within ``max_new_tokens``."""


@torch.no_grad()
def generate(
    model: CausalLM,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Sample (or greedily decode) responses; rows stop at ``EOS``.

    Args:
        model: the policy.
        prompt_ids: ``(B, Lp)`` from :func:`encode_prompts`.
        max_new_tokens: most tokens per response, EOS included.
        temperature: softmax temperature (> 0) when sampling.
        greedy: take the argmax instead of sampling.
        generator: seeded torch generator for the draws.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if not greedy and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}; use greedy=True for argmax")
    b, lp = prompt_ids.shape
    if lp + max_new_tokens > model.config.block_size:
        raise ValueError(
            f"prompts of {lp} tokens + max_new_tokens={max_new_tokens} exceed block_size={model.config.block_size}; "
            "shorten the prompts or lower max_new_tokens"
        )
    tok = model.tokenizer
    pad, eos = tok.pad_id, tok.eos_id
    was_training = model.training
    model.eval()
    tokens = prompt_ids
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits = model(tokens)[:, -1].float()  # (B, V)
        logits[:, pad] = -torch.inf
        if tok.bos_id is not None and tok.bos_id != eos:  # GPT-2's BOS is its EOS
            logits[:, tok.bos_id] = -torch.inf
        if greedy:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        done |= nxt == eos
        if bool(done.all()):
            break
    model.train(was_training)
    gen = tokens[:, lp:]  # (B, N)
    mask = torch.zeros(b, tokens.shape[1] - 1, dtype=torch.bool)
    mask[:, lp - 1 :] = gen != pad
    texts = [tok.decode(row) for row in gen.tolist()]
    return Rollout(tokens, mask, texts, done.clone())


def response_logprobs(model: CausalLM, tokens: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """``(B, T-1)`` log-probabilities of the response tokens under ``model``, 0 elsewhere."""
    return token_logprobs(model(tokens), tokens) * response_mask


def sequence_logprob(model: CausalLM, tokens: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` summed log-probability of each response under ``model``."""
    return response_logprobs(model, tokens, response_mask).sum(-1)
