from __future__ import annotations

import pytest
import torch

from rlhf_robotics.lm.model import GPT, GPTConfig
from rlhf_robotics.lm.pretrain import PretrainConfig, pretrain
from rlhf_robotics.lm.sft import SFTConfig, sft

TINY = GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=32)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def pretrained() -> GPT:
    """A GPT pretrained for a few seconds on arithmetic text (knows the format, not the sums); plain answers only,
    so the stage tests measure learning on the sums, not on issue 14's verbose style."""
    torch.set_num_threads(1)
    model, _ = pretrain(PretrainConfig(model=TINY, tasks=("arithmetic",), corpus_size=2000, steps=150, batch_size=32,
                                       verbose=0.0))
    return model


@pytest.fixture(scope="session")
def sft_model(pretrained: GPT) -> GPT:
    model, _ = sft(pretrained, SFTConfig(n_demos=200, steps=20, batch_size=32, verbose=0.0))
    return model
