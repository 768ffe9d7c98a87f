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


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("tasks=[algebra]", ("tasks", "'algebra'", "arithmetic, arith_steps, sorting, constrained")),
        ("difficulty.sorting=50", ("difficulty.sorting=50", "longest list", "[3, 12]")),
        ("difficulty.arithmetic=0", ("difficulty.arithmetic=0", "digits", "[1, 6]")),
        ("+difficulty.algebra=3", ("difficulty.algebra", "unknown task", "arithmetic")),
        ("dpo.kl_budget=0", ("dpo.kl_budget=0", "> 0", "null")),
        ("ppo.kl_budget=-1.5", ("ppo.kl_budget=-1.5", "> 0", "null")),
        ("reward.techniques.crop_steps=3", ("reward.techniques.crop_steps=3", "allowed only 0", "token ids")),
        ("reward.techniques.reed.enabled=true", ("reward.techniques.reed.enabled=true", "allowed only false", "REED")),
        ("reward.techniques.surf.enabled=true", ("reward.techniques.surf.enabled=true", "different prompts")),
        ("reward.techniques.rime.alpha=0.2", ("reward.techniques.rime.alpha=0.2", "> 0.367")),
    ],
)
def test_bad_input_stops_before_any_work(override: str, names: tuple[str, ...], tmp_path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: each message names the key, the value and what is allowed, and nothing is written."""
    from rlhf_robotics.cli.main import entry

    run_dir = tmp_path / "run"
    assert entry(["lm", "pipeline", f"run_dir={run_dir}", override]) == 2
    err = capsys.readouterr().err
    for name in names:
        assert name in err, (name, err)
    assert not run_dir.exists()  # no stage started


def test_bad_input_in_the_library_too() -> None:
    from rlhf_robotics.lm.dpo import DPOConfig
    from rlhf_robotics.lm.ppo import PPOConfig
    from rlhf_robotics.lm.tasks import build_task

    with pytest.raises(ValueError, match=r"difficulty\.sorting=2: .*\[3, 12\]"):
        build_task("sorting", 2)
    with pytest.raises(ValueError, match=r"difficulty\.arith_steps=True"):
        TaskMix(["arith_steps"], difficulty={"arith_steps": True})
    with pytest.raises(ValueError, match=r"dpo\.kl_budget=0"):
        DPOConfig(kl_budget=0)
    with pytest.raises(ValueError, match=r"ppo\.kl_budget=-1"):
        PPOConfig(kl_budget=-1)
    assert DPOConfig(kl_budget=None).kl_budget is None
