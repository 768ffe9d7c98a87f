"""Bad input fails with a message that names the value and the fix."""

from __future__ import annotations

import pytest
import torch

from rlhf_robotics.lm.checkpoint import load_lm, load_reward
from rlhf_robotics.lm.model import GPT, GPTConfig
from rlhf_robotics.lm.pipeline import LMConfig, run_stage
from rlhf_robotics.lm.pretrain import PretrainConfig, fit_lm
from rlhf_robotics.lm.sampling import encode_prompts, generate
from rlhf_robotics.lm.sft import SFTConfig
from rlhf_robotics.lm.tasks import Problem, TaskMix
from rlhf_robotics.lm.tokenizer import CharTokenizer
from rlhf_robotics.preference import PairDataset, RewardEnsemble, RewardTrainerConfig, train_ensemble

TINY = GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=32)


def test_prompt_longer_than_context(sft_model: GPT) -> None:
    long = Problem("arithmetic", "1" * 40 + "+1=", "", {})
    with pytest.raises(ValueError, match="block_size=32"):
        encode_prompts([long], block_size=32, max_new_tokens=4)
    ids = torch.randint(3, 10, (1, 30))
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(sft_model, ids, max_new_tokens=4)
    with pytest.raises(ValueError, match="longer than the model's context"):
        sft_model(torch.randint(3, 10, (1, 33)))


def test_unknown_character_names_it() -> None:
    with pytest.raises(ValueError, match="'#'"):
        CharTokenizer().encode("1#2")


def test_empty_datasets() -> None:
    with pytest.raises(ValueError, match="training set is empty"):
        fit_lm(GPT(TINY), torch.zeros(0, 5, dtype=torch.long), torch.zeros(0, 4, dtype=torch.bool), 1, 1, 1e-3, 0, 0.0,
               torch.Generator())
    with pytest.raises(ValueError, match="corpus_size"):
        PretrainConfig(corpus_size=0)
    with pytest.raises(ValueError, match="n_demos"):
        SFTConfig(n_demos=0)
    with pytest.raises(ValueError, match="tasks is empty"):
        TaskMix([])
    empty = PairDataset(torch.zeros(0, 4, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                        torch.zeros(0, dtype=torch.long), torch.zeros(0))
    with pytest.raises(ValueError, match="no comparisons"):
        import numpy as np

        train_ensemble(RewardEnsemble([torch.nn.Linear(4, 1)]), empty, RewardTrainerConfig(), np.random.default_rng(0))


def test_missing_checkpoint_names_the_command(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_lm(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_reward(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="rlhf-robotics lm sft"):
        run_stage(LMConfig(run_dir=str(tmp_path)), "grpo")
    with pytest.raises(FileNotFoundError, match="rlhf-robotics lm pretrain"):
        run_stage(LMConfig(run_dir=str(tmp_path)), "sft")


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown task 'algebra'"):
        TaskMix(["algebra"])
    with pytest.raises(ValueError, match="unknown stages"):
        LMConfig(stages=("pretrain", "rlhf"))
