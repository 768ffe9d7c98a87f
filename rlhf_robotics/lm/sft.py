"""Stage 2 — supervised fine-tuning: the pretrained model imitates demonstrations, loss on the response only.

The demonstrations are a fixed set written by fallible demonstrators: a share ``demo_noise`` carries the
task's typical mistake (forgotten carries in arithmetic), and a share ``verbose`` of the correct ones is written
in the verbose form the hidden style dislikes (leading zeros, commas). SFT clones them, mistakes included; the verifier-
and preference-driven stages are what can go past the demonstrators.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch

from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.pretrain import LMTrainMetrics, fit_lm
from rlhf_robotics.lm.sampling import encode_completions
from rlhf_robotics.lm.tasks import TaskMix, check_tasks


@dataclass
class SFTConfig:
    """Hyperparameters of supervised fine-tuning."""

    tasks: tuple[str, ...] = ("arithmetic",)
    """Tasks the demonstrations come from."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    n_demos: int = 1000
    """Demonstrations (prompt, answer)."""
    demo_noise: float = 0.5
    """Share of demonstrations that contain the task's typical mistake (demonstrators err like the corpus)."""
    verbose: float = 0.5
    """Share of the correct demonstrations written in the verbose form the hidden style dislikes."""
    steps: int = 300
    """Gradient steps."""
    batch_size: int = 64
    """Demonstrations per step."""
    lr: float = 1e-3
    """Peak AdamW learning rate."""
    warmup: int = 20
    """Warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    seed: int = 1
    """Seed of the demonstrations and minibatch order."""

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if self.n_demos < 1:
            raise ValueError(f"n_demos must be >= 1, got {self.n_demos}; SFT needs demonstrations")
        if not 0 <= self.demo_noise <= 1:
            raise ValueError(f"demo_noise is a probability in [0, 1], got {self.demo_noise}")
        if not 0 <= self.verbose <= 1:
            raise ValueError(f"verbose is a probability in [0, 1], got {self.verbose}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")


def sft(base: CausalLM, config: SFTConfig) -> tuple[CausalLM, LMTrainMetrics]:
    """Fine-tune a copy of ``base`` on demonstrations; the loss covers response tokens and EOS only."""
    rng = np.random.default_rng(config.seed)
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    demos = mix.sample(rng, config.n_demos)
    answers = [mix.task(p).demonstration(p, rng, config.demo_noise, config.verbose) for p in demos]
    tokens, mask = encode_completions([p.prompt for p in demos], answers, base.config.block_size, base.tokenizer)
    model = copy.deepcopy(base)
    gen = torch.Generator().manual_seed(config.seed)
    metrics = fit_lm(model, tokens, mask, config.steps, config.batch_size, config.lr, config.warmup,
                     config.weight_decay, gen)
    return model, metrics
