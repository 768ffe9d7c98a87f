"""A tiny GPT (nanoGPT style) that reads left-padded id tensors, and the scalar-head model built from it.

Padding is id 0; the attention mask and the position ids both come from ``tokens != PAD``, so a batch of
prompts of different lengths behaves exactly like each prompt alone. :class:`ScalarHeadModel` is the reward
model of the InstructGPT recipe (Ouyang et al. 2022): the SFT transformer with the LM head replaced by a linear
head read at the last non-pad token.

:class:`CausalLM` is what the stages ask of a policy; :class:`GPT` implements it, and so does
:class:`rlhf_robotics.lm.hf.HFCausalLM` over a ``transformers`` causal LM loaded from a local directory.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from rlhf_robotics.lm.tokenizer import PAD, CharTokenizer, Tokenizer

CHAR_TOKENIZER = CharTokenizer()


@dataclass
class GPTConfig:
    """Shape of the tiny GPT."""

    vocab_size: int = CharTokenizer().vocab_size
    """Number of token ids (the character tokenizer's ``vocab_size``)."""
    block_size: int = 40
    """Context length in tokens: prompt + response must fit."""
    n_layer: int = 3
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads per block."""
    n_embd: int = 96
    """Width of the residual stream."""
    dropout: float = 0.0
    """Dropout on attention and MLP outputs (0 for RL, where it would bias the ratios)."""

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def padding_mask(tokens: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` bool, True where ``tokens`` holds a real (non-pad) token."""
    return tokens != PAD


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` index of the last True of each row of ``mask`` ``(B, T)`` (0 for an all-False row)."""
    positions = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask.long() * positions).argmax(dim=1)


@runtime_checkable
class CausalLM(Protocol):
    """What the stages need of a policy (and reference) model.

    ``config`` has ``block_size`` (context in tokens) and ``n_embd`` (width of the hidden states); ``tokenizer``
    turns text into the ids the model reads, left-padded with ``tokenizer.pad_id``. Stages ``copy.deepcopy``
    the model, so it must be an :class:`torch.nn.Module`.
    """

    config: Any
    training: bool

    @property
    def tokenizer(self) -> Tokenizer: ...

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """Left-padded ids ``(B, T)`` → next-token logits ``(B, T, V)``."""
        ...

    def forward_with_hidden(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and the last hidden states ``(B, T, n_embd)``."""
        ...

    def scalar_head(self, head_seed: int = 0) -> nn.Module:
        """A reward model: this model's backbone with a fresh linear scalar head read at the last non-pad token."""
        ...

    # The parts of torch.nn.Module the stages use.
    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any: ...


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention then an MLP, each added to the residual stream."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(), nn.Linear(4 * config.n_embd, config.n_embd)
        )
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        q, k, v = self.qkv(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))  # (B, H, T, C/H)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)  # (B, H, T, C/H)
        y = y.transpose(1, 2).reshape(b, t, c)
        x = x + F.dropout(self.proj(y), p, self.training)
        return x + F.dropout(self.mlp(self.ln_2(x)), p, self.training)


class Transformer(nn.Module):
    """Embeddings, blocks and the final layer norm: ids ``(B, T)`` → hidden states ``(B, T, C)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        if t > self.config.block_size:
            raise ValueError(
                f"sequence of {t} tokens is longer than the model's context block_size={self.config.block_size}; "
                "shorten the prompt or max_new_tokens, or train a model with a larger block_size"
            )
        mask = padding_mask(tokens)  # (B, T)
        pos = (mask.long().cumsum(1) - 1).clamp_min(0)  # (B, T) positions count real tokens only
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).tril()
        # Pads are never attended to; every position attends to itself so pad rows stay finite.
        attn = (causal[None] & mask[:, None, :]) | torch.eye(t, dtype=torch.bool, device=tokens.device)[None]
        x = self.wte(tokens) + self.wpe(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x, attn[:, None])
        return self.ln_f(x)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


class GPT(nn.Module):
    """Causal language model: ids ``(B, T)`` → next-token logits ``(B, T, V)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(_init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    @property
    def tokenizer(self) -> Tokenizer:
        """The character tokenizer (fixed vocabulary)."""
        return CHAR_TOKENIZER

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.transformer(tokens))

    def scalar_head(self, head_seed: int = 0) -> ScalarHeadModel:
        """:meth:`ScalarHeadModel.from_lm` of this model."""
        return ScalarHeadModel.from_lm(self, head_seed)

    def forward_with_hidden(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and the hidden states ``(B, T, C)`` they were read from."""
        h = self.transformer(tokens)
        return self.lm_head(h), h


class ScalarHeadModel(nn.Module):
    """A transformer with a linear scalar head read at the last non-pad token: ids ``(B, L)`` → ``(B,)``.

    This is what an LM reward-ensemble member is; :class:`rlhf_robotics.preference.RewardEnsemble` stacks
    members to ``(E, B)``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.head = nn.Linear(config.n_embd, 1)
        self.apply(_init_weights)

    @classmethod
    def from_lm(cls, lm: GPT, head_seed: int = 0) -> ScalarHeadModel:
        """A copy of ``lm``'s transformer with its LM head replaced by a fresh scalar head (seeded)."""
        model = cls(lm.config)
        model.transformer.load_state_dict(copy.deepcopy(lm.transformer.state_dict()))
        gen = torch.Generator().manual_seed(head_seed)
        with torch.no_grad():
            model.head.weight.normal_(0.0, 1.0 / math.sqrt(lm.config.n_embd + 1), generator=gen)
            model.head.bias.zero_()
        return model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.transformer(tokens)  # (B, L, C)
        last = last_index(padding_mask(tokens))  # (B,)
        return self.head(h[torch.arange(len(tokens), device=tokens.device), last]).squeeze(-1)  # (B,)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of each next token: ``logits (B, T, V)``, ``tokens (B, T)`` → ``(B, T-1)``.

    Entry ``t`` is log p(tokens[:, t+1] | tokens[:, :t+1]).
    """
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
