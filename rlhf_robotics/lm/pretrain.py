"""Stage 1 — pretraining: next-token prediction on a generated corpus of every task's text.

The corpus is "web text": prompt + answer lines of every task, with a share of the answers corrupted, so the
pretrained model knows the characters and the shapes of the tasks but is not a reliable solver.

With ``model`` an :class:`~rlhf_robotics.lm.hf.HFModelConfig` (``model.hf_path=DIR``) the stage starts from the
causal LM saved in ``DIR`` instead of fresh weights, and continues its pretraining on the same corpus.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rlhf_robotics.lm.model import GPT, CausalLM, GPTConfig
from rlhf_robotics.lm.sampling import TOKENIZER, with_bos
from rlhf_robotics.lm.tasks import TaskMix, check_tasks
from rlhf_robotics.lm.tokenizer import Tokenizer


@dataclass
class PretrainConfig:
    """Hyperparameters of pretraining."""

    model: Any = field(default_factory=GPTConfig)
    """Shape of the GPT trained from scratch (:class:`GPTConfig`), or an
    :class:`~rlhf_robotics.lm.hf.HFModelConfig` naming a local causal LM to start from."""
    tasks: tuple[str, ...] = ("arithmetic", "arith_steps", "sorting", "constrained")
    """Tasks whose text makes up the corpus."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    corpus_size: int = 50_000
    """Lines in the generated corpus."""
    noise: float = 0.3
    """Share of corpus answers with the task's typical mistake."""
    verbose: float = 0.5
    """Share of the correct corpus answers in the verbose form the hidden style dislikes."""
    steps: int = 1500
    """Gradient steps."""
    batch_size: int = 64
    """Lines per step."""
    lr: float = 3e-3
    """Peak AdamW learning rate (linear warm-up, cosine decay to 10 %)."""
    warmup: int = 50
    """Warm-up steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    seed: int = 0
    """Seed of the corpus, the initial weights and the minibatch order."""

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = model_config(self.model)
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        if self.corpus_size < 1:
            raise ValueError(f"corpus_size must be >= 1, got {self.corpus_size}; the corpus would be empty")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise is a probability in [0, 1], got {self.noise}")
        if not 0 <= self.verbose <= 1:
            raise ValueError(f"verbose is a probability in [0, 1], got {self.verbose}")


def model_config(d: dict[str, Any]) -> Any:
    """:class:`GPTConfig` from a ``model`` dict, or an :class:`~rlhf_robotics.lm.hf.HFModelConfig` when it
    sets ``hf_path`` (the tiny GPT's shape keys are then ignored)."""
    d = dict(d)
    hf_path = d.pop("hf_path", None)
    if hf_path:
        from rlhf_robotics.lm.hf import HFModelConfig  # imports no transformers until a model is loaded

        return HFModelConfig(hf_path=str(hf_path))
    return GPTConfig(**d)


@dataclass
class LMTrainMetrics:
    """What a language-model training stage did; logged under ``<stage>/``."""

    initial_loss: float
    """Mean cross-entropy (nats/token) of the first 20 steps."""
    final_loss: float
    """Mean cross-entropy of the last 20 steps."""
    steps: int
    """Gradient steps taken."""
    seconds: float
    """Wall time of the training loop."""
    parameters: int
    """Trainable parameters."""
    examples: int
    """Distinct training sequences."""


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up to ``lr`` then cosine decay to ``0.1 · lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def masked_lm_loss(model: CausalLM, tokens: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the positions where ``loss_mask`` ``(B, T-1)`` is True."""
    logits = model(tokens)[:, :-1]  # (B, T-1, V)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tokens[:, 1:].reshape(-1), reduction="none")
    mask = loss_mask.reshape(-1).float()
    return (ce * mask).sum() / mask.sum().clamp_min(1.0)


def fit_lm(
    model: CausalLM,
    tokens: torch.Tensor,
    loss_mask: torch.Tensor,
    steps: int,
    batch_size: int,
    lr: float,
    warmup: int,
    weight_decay: float,
    generator: torch.Generator,
) -> LMTrainMetrics:
    """Minimise :func:`masked_lm_loss` over random minibatches of ``tokens`` ``(N, T)``; in place."""
    if len(tokens) == 0:
        raise ValueError("the training set is empty; raise corpus_size / n_demos")
    params = list(model.parameters())
    pad = model.tokenizer.pad_id
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95))
    model.train()
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup)
        idx = torch.randint(len(tokens), (min(batch_size, len(tokens)),), generator=generator)
        batch, mask = tokens[idx], loss_mask[idx]
        keep = int((batch != pad).any(0).float().argmax())  # drop all-pad leading columns
        loss = masked_lm_loss(model, batch[:, keep:], mask[:, keep:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    k = min(20, len(losses))
    return LMTrainMetrics(
        initial_loss=float(np.mean(losses[:k])),
        final_loss=float(np.mean(losses[-k:])),
        steps=steps,
        seconds=time.perf_counter() - start,
        parameters=sum(p.numel() for p in params),
        examples=len(tokens),
    )


def build_corpus(mix: TaskMix, size: int, noise: float, rng: np.random.Generator, block_size: int,
                 tokenizer: Tokenizer = TOKENIZER, verbose: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, L)`` left-padded ``BOS + line + EOS`` ids and their loss mask (every real next token)."""
    rows = []
    for p in mix.sample(rng, size):
        ids = with_bos(tokenizer, [*tokenizer.encode(mix.task(p).corpus_line(p, rng, noise, verbose)), tokenizer.eos_id])
        if len(ids) > block_size:
            raise ValueError(f"corpus line for {p.prompt!r} is {len(ids)} tokens > block_size={block_size}; raise block_size")
        rows.append(ids)
    tokens = tokenizer.pad_left(rows)
    return tokens, tokens[:, 1:] != tokenizer.pad_id


def pretrain(config: PretrainConfig) -> tuple[CausalLM, LMTrainMetrics]:
    """Train a GPT from scratch (or continue a local HF model's training) on a generated corpus."""
    rng = np.random.default_rng(config.seed)
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if isinstance(config.model, GPTConfig):
            model: CausalLM = GPT(config.model)
        else:
            from rlhf_robotics.lm.hf import load_hf_lm

            model = load_hf_lm(config.model)
    tokens, mask = build_corpus(mix, config.corpus_size, config.noise, rng, model.config.block_size, model.tokenizer,
                                config.verbose)
    gen = torch.Generator().manual_seed(config.seed)
    metrics = fit_lm(model, tokens, mask, config.steps, config.batch_size, config.lr, config.warmup,
                     config.weight_decay, gen)
    return model, metrics
