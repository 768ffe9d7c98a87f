"""The scalar-head reward model on the shared core: swap invariance, padding invariance, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhf_robotics.lm.model import GPT, ScalarHeadModel
from rlhf_robotics.lm.reward import RewardConfig, build_reward_ensemble, pair_dataset, train_reward_model
from rlhf_robotics.lm.sampling import encode_completions
from rlhf_robotics.preference import PreferenceStore, RewardTrainerConfig, preference_probability


def test_scores_invariant_to_pair_order_and_padding(sft_model: GPT) -> None:
    rm = build_reward_ensemble(sft_model, 2, seed=0)
    a, _ = encode_completions(["12+34=", "5+6="], ["46", "11"], 32)
    b, _ = encode_completions(["5+6=", "12+34="], ["11", "46"], 32)
    sa, sb = rm.item_scores(a), rm.item_scores(b)  # (E, 2)
    assert torch.allclose(sa, sb.flip(-1), atol=1e-5)  # the same items, listed in the other order
    p_ab = preference_probability(sa[:, 0], sa[:, 1])
    p_ba = preference_probability(sb[:, 0], sb[:, 1])
    assert torch.allclose(p_ab, 1 - p_ba, atol=1e-6)
    # A sequence scores the same alone as beside a longer one (left padding is invisible).
    alone, _ = encode_completions(["5+6="], ["11"], 32)
    assert torch.allclose(rm.item_scores(alone)[:, 0], sa[:, 1], atol=1e-5)


def test_scalar_head_keeps_the_sft_transformer(sft_model: GPT) -> None:
    m = ScalarHeadModel.from_lm(sft_model)
    for k, v in sft_model.transformer.state_dict().items():
        assert torch.equal(v, m.transformer.state_dict()[k])
    assert not hasattr(m, "lm_head")


def test_reward_stage_uses_the_store_and_learns(sft_model: GPT, tmp_path) -> None:
    config = RewardConfig(
        n_pairs=200, n_eval_pairs=50, teacher="oracle", teacher_overrides={"equal_threshold": 0.02},
        trainer=RewardTrainerConfig(epochs=4, batch_size=32, lr=1e-3, regularisation="none", noise=0.0, val_fraction=0.0),
    )
    before = {k: v.clone() for k, v in build_reward_ensemble(sft_model, 1, config.seed).state_dict().items()}
    ensemble, metrics = train_reward_model(sft_model, config, tmp_path)
    with PreferenceStore(tmp_path / "preferences.sqlite") as store:
        assert store.count_queries() == 200
        q = store.queries()[0].query
        first, second = store.get_items([q.first, q.second])  # the texts live in the item store, not in meta
        assert first.prompt == second.prompt and "texts" not in q.meta
        assert set(first.meta) == {"task", "gold"} and store.count_items() == 400
        j = store.judgments()[0].judgment
        assert set(j.rubric) == {"correct", "digits", "format"} and j.annotator == "teacher:oracle"
        data = pair_dataset(store, sft_model.config.block_size)
    assert metrics.labels.get("tie", 0) > 0  # ties are kept as targets of 0.5
    assert float((data.target == 0.5).float().mean()) > 0
    changed = any(not torch.equal(before[k], v) for k, v in ensemble.state_dict().items() if k in before)
    assert changed
    # Improves its own objective: the trained loss is below the ln 2 of an uninformed model.
    assert metrics.trainer.train_loss < np.log(2) - 0.02
    assert metrics.trainer.train_accuracy > 0.6


def test_empty_store_is_a_clear_error(tmp_path) -> None:
    with PreferenceStore(tmp_path / "p.sqlite") as store, pytest.raises(ValueError, match="no labelled LM comparisons"):
        pair_dataset(store, 32)


def test_later_rounds_select_pairs_by_ensemble_disagreement(sft_model: GPT, tmp_path) -> None:
    config = RewardConfig(n_pairs=64, rounds=2, ensemble_size=2, selector="disagreement", oversampling=3.0,
                          n_eval_pairs=8, trainer=RewardTrainerConfig(epochs=1, batch_size=32))
    ensemble, _ = train_reward_model(sft_model, config, tmp_path)
    assert ensemble.size == 2
    with PreferenceStore(tmp_path / "preferences.sqlite") as store:
        selectors = [row.query.selector for row in store.queries()]
        scores = [row.query.score for row in store.queries() if row.query.selector == "disagreement"]
    assert selectors.count("uniform") == 32 and selectors.count("disagreement") == 32
    assert max(scores) > 0
