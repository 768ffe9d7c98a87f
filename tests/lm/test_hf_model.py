"""A local Hugging Face causal LM through the same stage code: a tiny GPT-2 or a tiny Llama-style model (RMSNorm,
rotary positions, SwiGLU, grouped-query attention) and a character-level tokenizer, all made here from a config and
saved with ``save_pretrained``, replace the tiny GPT (nothing is downloaded). Every test runs on both
architectures."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from rlhf_robotics.lm.checkpoint import load_lm, load_reward, save_checkpoint  # noqa: E402
from rlhf_robotics.lm.dpo import DPOConfig, train_dpo  # noqa: E402
from rlhf_robotics.lm.grpo import GRPOConfig, train_grpo  # noqa: E402
from rlhf_robotics.lm.hf import PAD_TOKEN, HFCausalLM, HFModelConfig, HFTokenizer, load_hf_lm  # noqa: E402
from rlhf_robotics.lm.model import GPT, CausalLM, GPTConfig  # noqa: E402
from rlhf_robotics.lm.pretrain import PretrainConfig, model_config, pretrain  # noqa: E402
from rlhf_robotics.lm.reward import RewardConfig, build_reward_ensemble, train_reward_model  # noqa: E402
from rlhf_robotics.lm.sampling import encode_completions, encode_prompts, generate  # noqa: E402
from rlhf_robotics.lm.sft import SFTConfig, sft  # noqa: E402
from rlhf_robotics.lm.tasks import TaskMix  # noqa: E402
from rlhf_robotics.lm.tokenizer import CHARS, CharTokenizer, Tokenizer  # noqa: E402
from rlhf_robotics.preference import PreferenceStore, RewardTrainerConfig, preference_probability  # noqa: E402

ARCHITECTURES = ("gpt2", "llama")


def tiny_causal_lm(arch: str, vocab_size: int, with_pad: bool) -> torch.nn.Module:
    """A 1-layer causal LM of width 32 built from a config: GPT-2, or Llama-style (2 query heads sharing 1 KV head)."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    pad = 0 if with_pad else None
    if arch == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=32, n_layer=1, n_head=2, n_embd=32,
                                          bos_token_id=1, eos_token_id=2, pad_token_id=pad))
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                            max_position_embeddings=32, bos_token_id=1, eos_token_id=2,
                                            pad_token_id=pad, tie_word_embeddings=False))
    raise ValueError(f"arch={arch!r}; expected one of {ARCHITECTURES}")


def save_tiny_causal_lm(path: Path, with_pad: bool = True, arch: str = "gpt2") -> Path:
    """A 1-layer ``arch`` model (width 32) and a character-level WordLevel tokenizer over the task alphabet, saved
    to ``path``."""
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as RustTokenizer
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    vocab = {t: i for i, t in enumerate([*specials, *CHARS])}
    rust = RustTokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    rust.pre_tokenizer = pre_tokenizers.Split(Regex(r"(?m)."), behavior="isolated")  # one token per character
    rust.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=rust, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
                                        **({"pad_token": "<pad>"} if with_pad else {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = tiny_causal_lm(arch, len(vocab), with_pad)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=ARCHITECTURES)
def hf_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_causal_lm(tmp_path_factory.mktemp(f"tiny_{request.param}"), arch=request.param)


@pytest.fixture(scope="module")
def hf_pretrained(hf_dir: Path) -> CausalLM:
    """The local GPT-2, trained a few seconds on arithmetic text by the pretrain stage."""
    torch.set_num_threads(1)
    model, m = pretrain(PretrainConfig(model=HFModelConfig(str(hf_dir)), tasks=("arithmetic",), corpus_size=2000,
                                       steps=150, batch_size=32))
    assert isinstance(model, HFCausalLM)
    assert m.final_loss < m.initial_loss - 0.5
    return model


@pytest.fixture(scope="module")
def hf_sft(hf_pretrained: CausalLM) -> CausalLM:
    model, _ = sft(hf_pretrained, SFTConfig(n_demos=200, steps=20, batch_size=32))
    return model


def _changed(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_both_tokenizers_and_models_meet_the_protocols(hf_dir: Path) -> None:
    lm = load_hf_lm(hf_dir)
    assert isinstance(lm.tokenizer, HFTokenizer) and isinstance(lm.tokenizer, Tokenizer)
    assert isinstance(CharTokenizer(), Tokenizer)
    assert isinstance(lm, CausalLM) and isinstance(GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8)), CausalLM)
    tok = lm.tokenizer
    ids = tok.encode("12+34= sort 3 1:")
    assert len(ids) == len("12+34= sort 3 1:")  # one token per character
    assert tok.decode([tok.pad_id, *ids, tok.eos_id, *ids]) == "12+34= sort 3 1:"
    assert lm.config.block_size == 32 and lm.config.n_embd == 32 and lm.config.hf_path == str(hf_dir.resolve())
    assert copy.deepcopy(lm).tokenizer is tok


def test_generation_and_padding(hf_dir: Path) -> None:
    lm = load_hf_lm(hf_dir)
    mix = TaskMix(["arithmetic"])
    problems = mix.sample(np.random.default_rng(0), 6)
    ids = encode_prompts(problems, lm.config.block_size, 4, lm.tokenizer)
    assert int(ids[0, -1]) != lm.tokenizer.pad_id
    roll = generate(lm, ids, 4, generator=torch.Generator().manual_seed(0))
    assert len(roll.texts) == 6 and roll.tokens.shape[1] <= ids.shape[1] + 4
    # A sequence gets the same logits alone as beside a longer one (left padding is invisible).
    both, _ = encode_completions(["12+34=", "5+6="], ["46", "11"], 32, lm.tokenizer)
    alone, _ = encode_completions(["5+6="], ["11"], 32, lm.tokenizer)
    with torch.no_grad():
        assert torch.allclose(lm(both)[1, -alone.shape[1]:], lm(alone)[0], atol=1e-5)


def test_missing_or_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no causal LM at .*save_pretrained"):
        load_hf_lm(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no causal LM at .*save_pretrained"):
        load_hf_lm(tmp_path)
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="no causal LM at .*save_pretrained"):
        load_hf_lm(tmp_path)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_tokenizer_without_pad_gets_one(tmp_path: Path, arch: str) -> None:
    lm = load_hf_lm(save_tiny_causal_lm(tmp_path, with_pad=False, arch=arch))
    assert lm.tokenizer.hf.pad_token == PAD_TOKEN
    assert lm.tokenizer.pad_id not in (lm.tokenizer.eos_id, lm.tokenizer.bos_id)
    assert lm.hf.get_input_embeddings().num_embeddings == lm.tokenizer.vocab_size


def test_config_switch(hf_dir: Path) -> None:
    assert isinstance(model_config({"vocab_size": 55, "block_size": 32, "hf_path": None}), GPTConfig)
    cfg = model_config({"vocab_size": 55, "block_size": 32, "n_layer": 2, "hf_path": str(hf_dir)})
    assert isinstance(cfg, HFModelConfig) and cfg.hf_path == str(hf_dir.resolve())
    from rlhf_robotics.cli.lm import compose, to_lm_config

    config = to_lm_config(compose([f"model.hf_path={hf_dir}"]))
    assert isinstance(config.pretrain.model, HFModelConfig)


def test_sft_changes_parameters_and_lowers_the_loss(hf_pretrained: CausalLM) -> None:
    model, m = sft(hf_pretrained, SFTConfig(n_demos=200, steps=40, batch_size=32, demo_noise=0.0))
    assert isinstance(model, HFCausalLM)
    assert _changed(model, hf_pretrained)  # type: ignore[arg-type]
    assert m.final_loss < m.initial_loss


def test_reward_scores_invariant_to_pair_order(hf_sft: CausalLM) -> None:
    rm = build_reward_ensemble(hf_sft, 2, seed=0)
    assert not hasattr(rm.members[0], "lm_head") and not hasattr(rm.members[0].backbone, "lm_head")
    a, _ = encode_completions(["12+34=", "5+6="], ["46", "11"], 32, hf_sft.tokenizer)
    b, _ = encode_completions(["5+6=", "12+34="], ["11", "46"], 32, hf_sft.tokenizer)
    with torch.no_grad():
        sa, sb = rm.item_scores(a), rm.item_scores(b)  # (E, 2)
        assert torch.allclose(sa, sb.flip(-1), atol=1e-5)
        p_ab = preference_probability(sa[:, 0], sa[:, 1])
        p_ba = preference_probability(sb[:, 0], sb[:, 1])
        assert torch.allclose(p_ab, 1 - p_ba, atol=1e-6)
        alone, _ = encode_completions(["5+6="], ["11"], 32, hf_sft.tokenizer)
        assert torch.allclose(rm.item_scores(alone)[:, 0], sa[:, 1], atol=1e-5)


def test_reward_then_dpo_change_parameters_and_improve_their_objectives(hf_sft: CausalLM, tmp_path: Path) -> None:
    rm, rm_metrics = train_reward_model(hf_sft, RewardConfig(
        n_pairs=96, n_eval_pairs=8, teacher="oracle", teacher_overrides={"equal_threshold": 0.02},
        trainer=RewardTrainerConfig(epochs=3, batch_size=32, lr=1e-3, regularisation="none", val_fraction=0.0)),
        tmp_path)
    assert rm_metrics.trainer.train_loss < np.log(2)
    with PreferenceStore(tmp_path / "preferences.sqlite") as store:
        assert store.count_queries() == 96
    policy, m = train_dpo(hf_sft, hf_sft, tmp_path / "preferences.sqlite",
                          DPOConfig(loss="tie_aware", epochs=6, lr=1e-3, batch_size=64))
    assert isinstance(policy, HFCausalLM)
    assert _changed(policy, hf_sft)  # type: ignore[arg-type]
    assert np.mean(m.loss[-3:]) < m.loss[0]
    # The checkpoints round-trip through the directory they name.
    save_checkpoint(tmp_path / "dpo", policy, "lm", policy.config, "dpo")  # type: ignore[arg-type]
    save_checkpoint(tmp_path / "reward", rm, "reward", hf_sft.config, "reward", extra={"ensemble_size": rm.size})
    loaded, meta = load_lm(tmp_path / "dpo")
    rm_loaded, _ = load_reward(tmp_path / "reward")
    assert meta["model"]["hf_path"] == hf_sft.config.hf_path
    tokens, _ = encode_completions(["12+34="], ["46"], 32, hf_sft.tokenizer)
    with torch.no_grad():
        assert torch.allclose(loaded(tokens), policy(tokens), atol=1e-5)
        assert torch.allclose(rm_loaded.item_scores(tokens), rm.item_scores(tokens), atol=1e-5)


def test_grpo_changes_parameters_and_raises_its_reward(hf_sft: CausalLM) -> None:
    # The rubric's partial credit gives a signal within seconds (about 0.21 → 0.26 here).
    policy, m = train_grpo(hf_sft, hf_sft, GRPOConfig(
        reward="rubric", steps=60, prompts_per_step=32, group_size=8, lr=3e-3, max_new_tokens=4, seed=0))
    assert isinstance(policy, HFCausalLM)
    assert _changed(policy, hf_sft)  # type: ignore[arg-type]
    assert np.mean(m.reward[-10:]) > np.mean(m.reward[:10]) + 0.01
    assert m.kl[0] == pytest.approx(0.0, abs=1e-6)  # the policy starts as the reference


def test_cli_pipeline_runs_a_local_model(hf_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rlhf_robotics.cli.main import entry

    assert entry(["lm", "pipeline", "+experiment=smoke", f"run_dir={tmp_path}", f"model.hf_path={hf_dir}",
                  "stages=[pretrain,sft,reward,ppo,dpo,grpo,best_of_n]"]) == 0
    out = capsys.readouterr().out
    for stage in ("pretrain", "sft", "ppo", "dpo", "grpo", "best_of_n"):
        assert stage in out
    assert load_lm(tmp_path / "grpo")[1]["model"]["hf_path"] == str(hf_dir.resolve())
    assert entry(["lm", "pretrain", f"run_dir={tmp_path / 'other'}", f"model.hf_path={tmp_path / 'no_model'}",
                  "+experiment=smoke"]) == 2
    assert "no causal LM at" in capsys.readouterr().err
