"""Issue 13's contract: with every technique off the reward trainer is the one from before the issue, bit for bit.

``fingerprints/trainer_before_issue13.json`` was recorded from the trainer at 635bf9c (before any technique
existed) on the two problems below; a change that alters an off-by-default fit fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhf_robotics.preference.ensemble import MLPConfig
from rlhf_robotics.preference.techniques import RIMEConfig, SURFConfig, TechniquesConfig
from rlhf_robotics.preference.trainer import RewardTrainerConfig, train_ensemble

from .test_trainer import D, T, linear_pairs, new_ensemble

FINGERPRINT = Path(__file__).parent / "fingerprints" / "trainer_before_issue13.json"
PROBLEMS = {
    "adaptive_l2": (RewardTrainerConfig(epochs=6, batch_size=32, device="cpu"), MLPConfig(hidden_sizes=(16, 16))),
    "dropout_no_bootstrap": (RewardTrainerConfig(epochs=4, batch_size=16, bootstrap=False,
                                                 regularisation="early_stopping", device="cpu"),
                             MLPConfig(hidden_sizes=(16,), dropout=0.2)),
}


def fit(name: str, **kwargs: object) -> tuple[dict[str, torch.Tensor], object]:
    config, mlp = PROBLEMS[name]
    data, _ = linear_pairs(11, n_items=50, n_pairs=90)
    ensemble = new_ensemble(seed=3, mlp=mlp, items=data.items)
    metrics = train_ensemble(ensemble, data, config, np.random.default_rng(5), **kwargs)  # type: ignore[arg-type]
    return ensemble.state_dict(), metrics


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_off_matches_the_trainer_before_the_techniques(name: str) -> None:
    expected = json.loads(FINGERPRINT.read_text())[name]
    weights, metrics = fit(name)
    assert set(weights) == set(expected["weights"])
    for key, value in weights.items():
        want = expected["weights"][key]
        assert float(value.double().sum()) == pytest.approx(want["sum"], rel=1e-6, abs=1e-9), key
        assert float(value.double().norm()) == pytest.approx(want["norm"], rel=1e-6, abs=1e-9), key
    assert metrics.train_loss == pytest.approx(expected["metrics"]["train_loss"], rel=1e-6)  # type: ignore[attr-defined]
    assert metrics.epochs == expected["metrics"]["epochs"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_disabled_techniques_with_their_data_change_nothing(name: str) -> None:
    """Settings of disabled techniques, and data passed for them, leave the weights identical."""
    plain, _ = fit(name)
    off = TechniquesConfig(surf=SURFConfig(enabled=False, threshold=0.9, ratio=1.0),
                           rime=RIMEConfig(enabled=False, alpha=2.0))
    rng = np.random.default_rng(0)
    unlabelled = torch.as_tensor(rng.normal(size=(20, T, D)), dtype=torch.float32)
    same, metrics = fit(name, techniques=off, unlabelled=unlabelled, transitions=unlabelled)
    for key, value in plain.items():
        assert torch.equal(value, same[key]), key
    assert metrics.stopped_by_accuracy == [False, False]  # type: ignore[attr-defined]
    assert metrics.self_predictive is None  # type: ignore[attr-defined]
