from __future__ import annotations

import json

import numpy as np
import torch

from rlhf_robotics.lm.checkpoint import load_lm, load_reward, save_checkpoint
from rlhf_robotics.lm.model import GPT
from rlhf_robotics.lm.reward import build_reward_ensemble


def test_round_trip_without_pickle(sft_model: GPT, tmp_path) -> None:
    save_checkpoint(tmp_path / "lm", sft_model, "lm", sft_model.config, "sft", metrics={"x": float("nan")})
    with np.load(tmp_path / "lm" / "weights.npz", allow_pickle=False) as data:
        assert data.files
    meta = json.loads((tmp_path / "lm" / "meta.json").read_text())
    assert meta["kind"] == "lm" and meta["schema_version"] == 1
    loaded, _ = load_lm(tmp_path / "lm")
    x = torch.randint(3, 20, (2, 9))
    assert torch.equal(loaded(x), sft_model(x))

    rm = build_reward_ensemble(sft_model, 2, seed=0)
    save_checkpoint(tmp_path / "rm", rm, "reward", sft_model.config, "reward", extra={"ensemble_size": 2})
    rm2, _ = load_reward(tmp_path / "rm")
    assert torch.equal(rm2.item_scores(x), rm.item_scores(x))
