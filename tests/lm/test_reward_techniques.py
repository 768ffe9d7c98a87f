"""Issue 13's label-efficiency techniques on the LM reward model: off by default (today's weights, bit for bit),
the ones that apply to text (B-Pref's stop, RIME) reach the shared trainer and report what they did, and the ones
defined on step sequences are refused before any work."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from rlhf_robotics.lm import reward
from rlhf_robotics.lm.model import GPT
from rlhf_robotics.lm.reward import RewardConfig, train_reward_model
from rlhf_robotics.preference import RewardTrainerConfig
from rlhf_robotics.preference.techniques import REEDConfig, RIMEConfig, SURFConfig, TechniquesConfig

TRAINER = RewardTrainerConfig(epochs=3, batch_size=32, lr=1e-3, regularisation="none", noise=0.0, val_fraction=0.0)


def small(**kwargs: Any) -> RewardConfig:
    """A reward stage of seconds (unless ``kwargs`` say otherwise): 120 pairs from a teacher that flips 30 % of its answers."""
    defaults: dict[str, Any] = {"n_pairs": 120, "n_eval_pairs": 20, "teacher": "mistake", "trainer": TRAINER,
                                "teacher_overrides": {"mistake": 0.3, "equal_threshold": 0.02}}
    return RewardConfig(**{**defaults, **kwargs})


def test_techniques_off_give_todays_weights(sft_model: GPT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, or every technique off whatever its other settings, the stage's weights are those of the call it made
    before the techniques existed, ``train_ensemble(ensemble, data, config.trainer, rng)``, bit for bit."""
    def weights(config: RewardConfig, name: str) -> dict[str, torch.Tensor]:
        ensemble, _ = train_reward_model(sft_model, config, tmp_path / name)
        return ensemble.state_dict()

    unset = weights(small(), "unset")
    off = weights(small(techniques=TechniquesConfig(rime=RIMEConfig(enabled=False, alpha=0.9, warmup_epochs=0),
                                                    surf=SURFConfig(enabled=False, threshold=0.6))), "off")
    original = reward.train_ensemble
    monkeypatch.setattr(reward, "train_ensemble", lambda ensemble, data, config, rng, **_: original(
        ensemble, data, config, rng))
    before = weights(small(), "before")
    for other in (off, before):
        assert unset.keys() == other.keys()
        assert all(torch.equal(unset[k], other[k]) for k in unset)


def test_rime_filters_noisy_text_labels_and_the_metrics_say_how_many(sft_model: GPT, tmp_path: Path) -> None:
    trainer = RewardTrainerConfig(epochs=10, batch_size=32, lr=1e-3, regularisation="none", val_fraction=0.0)
    _, off = train_reward_model(sft_model, small(n_pairs=500, trainer=trainer), tmp_path / "off")
    assert math.isnan(off.trainer.trusted_fraction) and math.isnan(off.trainer.flipped_fraction)
    on_config = small(n_pairs=500, trainer=trainer, techniques=TechniquesConfig(rime=RIMEConfig(enabled=True)))
    _, on = train_reward_model(sft_model, on_config, tmp_path / "on")
    # A 30 %-mistaken teacher: after the warm start RIME distrusts some labels (dropped or flipped) and keeps most.
    assert 0.5 < on.trainer.trusted_fraction < 1.0
    assert 0.0 <= on.trainer.flipped_fraction < 1.0 - on.trainer.trusted_fraction + 1e-6
    assert on.labels == off.labels  # the same comparisons and labels; only the fit differs


def test_accuracy_stop_ends_the_fit_early(sft_model: GPT, tmp_path: Path) -> None:
    trainer = RewardTrainerConfig(epochs=20, batch_size=32, lr=1e-3, regularisation="none", val_fraction=0.0)
    config = small(trainer=trainer, teacher_overrides={"mistake": 0.0, "equal_threshold": 0.02},
                   techniques=TechniquesConfig(stop_accuracy=0.55))
    _, metrics = train_reward_model(sft_model, config, tmp_path)
    assert metrics.trainer.stopped_by_accuracy == [True]
    assert metrics.trainer.epochs[0] < 20


@pytest.mark.parametrize(
    ("techniques", "names"),
    [
        (TechniquesConfig(crop_steps=2), ("reward.techniques.crop_steps=2", "allowed only 0", "token ids")),
        (TechniquesConfig(reed=REEDConfig(enabled=True)), ("reward.techniques.reed.enabled=true", "allowed only false")),
        (TechniquesConfig(surf=SURFConfig(enabled=True)), ("reward.techniques.surf.enabled=true", "different prompts")),
        (TechniquesConfig(rime=RIMEConfig(enabled=True, flip_probability=0.7)),
         ("reward.techniques.rime.flip_probability=0.7", "< 0.5")),
    ],
)
def test_techniques_that_do_not_apply_to_text_are_refused(techniques: TechniquesConfig,
                                                          names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as err:
        RewardConfig(techniques=techniques)
    for name in names:
        assert name in str(err.value), (name, str(err.value))


def test_overrides_reach_the_typed_config() -> None:
    from rlhf_robotics.cli.lm import compose, to_lm_config

    tech = to_lm_config(compose(["reward.techniques.rime.enabled=true", "reward.techniques.stop_accuracy=0.97",
                                 "reward.techniques.rime.warmup_epochs=2"])).reward.techniques
    assert tech.rime.enabled and tech.rime.warmup_epochs == 2 and tech.stop_accuracy == 0.97
    assert to_lm_config(compose([])).reward.techniques == TechniquesConfig()


def test_techniques_given_as_a_mapping_are_typed_and_checked() -> None:
    """``RewardConfig(techniques={...})`` (as a script or a JSON config passes it) builds the typed settings, and a
    wrong key or value is named with its full key."""
    config = small(techniques={"stop_accuracy": 0.9, "rime": {"enabled": True, "alpha": 0.5}})
    assert config.techniques == TechniquesConfig(stop_accuracy=0.9, rime=RIMEConfig(enabled=True, alpha=0.5))
    with pytest.raises(ValueError, match=r"reward\.techniques\.stop_acuracy"):
        small(techniques={"stop_acuracy": 0.9})
    with pytest.raises(ValueError, match=r"reward\.techniques\.crop_steps=3"):
        small(techniques={"crop_steps": 3})
