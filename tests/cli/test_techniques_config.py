"""Issue 13's settings at the edge: ``reward_model.techniques`` and the selection options compose from conf/, their
YAML defaults are the dataclasses' (B-Pref's stop on, the rest off), and a bad value stops the command before any work with a
message naming the key, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rlhf_robotics.cli.train import CONF_DIR, experiment_config
from rlhf_robotics.preference.techniques import TechniquesConfig
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.typed_config import ConfigError


def _compose(overrides: list[str]) -> ExperimentConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["run_dir=/tmp/x", *overrides])
    return experiment_config(cfg)


def test_yaml_defaults_are_the_dataclass_defaults_with_only_b_prefs_stop_on() -> None:
    config = _compose([])
    assert config.reward_model.techniques == TechniquesConfig(stop_accuracy=0.97)
    assert not config.reward_model.techniques.trainer_is_default  # the stop changes the fit
    assert dataclasses.replace(config.reward_model.techniques, stop_accuracy=None).trainer_is_default
    for algo in ("ppo", "sac", "td3"):  # the yaml and the dataclass agree, resolved the same way for each agent
        assert _compose([f"algo={algo}"]).reward_model == ExperimentConfig(algo=algo).reward_model, algo
    assert config.selection.recent_steps is None and config.selection.same_episode == 0.0
    assert config.selection.cover_episode_edges is False


def test_techniques_and_selection_options_are_settable() -> None:
    config = _compose(["reward_model.techniques.stop_accuracy=0.97", "reward_model.techniques.crop_steps=5",
                       "reward_model.techniques.surf.enabled=true", "reward_model.techniques.surf.threshold=0.95",
                       "reward_model.techniques.rime.enabled=true", "reward_model.techniques.rune.enabled=true",
                       "reward_model.techniques.reed.enabled=true", "selection=kcenter_disagreement",
                       "selection.recent_steps=20000", "selection.same_episode=0.5",
                       "selection.cover_episode_edges=true"])
    t = config.reward_model.techniques
    assert (t.stop_accuracy, t.crop_steps, t.surf.threshold) == (0.97, 5, 0.95)
    assert t.surf.enabled and t.rime.enabled and t.rune.enabled and t.reed.enabled
    assert (config.selection.name, config.selection.recent_steps) == ("kcenter_disagreement", 20000)
    assert config.selection.same_episode == 0.5 and config.selection.cover_episode_edges is True


@pytest.mark.parametrize(("override", "message"), [
    ("reward_model.techniques.surf.threshold=0.4",
     r"reward_model.techniques.surf.threshold=0.4: must be > 0.5 and < 1 \(confidence"),
    ("reward_model.techniques.surf.threshold=1", r"reward_model.techniques.surf.threshold=1.0: must be > 0.5 and < 1"),
    ("reward_model.techniques.crop_steps=-2", r"reward_model.techniques.crop_steps=-2: must be >= 0"),
    ("reward_model.techniques.rime.alpha=0.2",
     r"reward_model.techniques.rime.alpha=0.2: must be > 0.36.*would drop every label"),
    ("reward_model.techniques.rune.beta0=-1", r"reward_model.techniques.rune.beta0=-1.0: must be >= 0"),
    ("reward_model.techniques.rune.decay=1", r"reward_model.techniques.rune.decay=1.0: must be >= 0 and < 1"),
    ("reward_model.techniques.stop_accuracy=2", r"reward_model.techniques.stop_accuracy=2.0: must be > 0.5 and <= 1"),
    ("selection.recent_steps=0", r"selection.recent_steps=0: must be >= 1"),
    ("selection.same_episode=1.5", r"selection.same_episode=1.5: must be >= 0 and <= 1 \(a share of the candidate"),
    ("selection.cover_episode_edges=yes", r"selection.cover_episode_edges='yes': expected true or false"),
    ("+reward_model.techniques.surf.tau=0.9", r"unknown key 'reward_model.techniques.surf.tau'"),
])
def test_bad_values_name_key_value_and_allowed(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _compose([override])


def test_rune_needs_an_ensemble() -> None:
    with pytest.raises(ConfigError, match=r"rune.enabled=true needs reward_model.ensemble_size >= 2"):
        _compose(["reward_model.techniques.rune.enabled=true", "reward_model.ensemble_size=1"])


def test_cli_stops_before_any_work_on_a_bad_threshold(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", "reward_model.techniques.surf.threshold=1.5",
                        f"run_dir={tmp_path}/r"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "reward_model.techniques.surf.threshold=1.5: must be > 0.5 and < 1" in r.stderr
    assert not (tmp_path / "r").exists()


def test_saved_settings_read_back_unchanged() -> None:
    """A run's config.json (dataclasses.asdict) with techniques set is read back by load_config's converter."""
    import dataclasses
    import json

    from rlhf_robotics.typed_config import from_mapping

    config = _compose(["reward_model.techniques.stop_accuracy=0.97", "reward_model.techniques.rime.enabled=true",
                       "selection.recent_steps=5000"])
    raw = json.loads(json.dumps(dataclasses.asdict(config)))
    assert from_mapping(ExperimentConfig, raw) == config


def test_a_run_saved_before_techniques_existed_resumes_as_it_ran(tmp_path: Path) -> None:
    """A config.json written before issue 13 has no reward_model.techniques: resuming it must not switch on the
    B-Pref stop (today's default, 0.97) halfway through a run that trained every member its full epochs."""
    import json

    from rlhf_robotics.robotics.config import load_config

    config = _compose([])
    assert config.reward_model.techniques.stop_accuracy == 0.97  # today's default, which the old run never had
    raw = json.loads(json.dumps(dataclasses.asdict(config)))
    del raw["reward_model"]["techniques"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    old = load_config(tmp_path)
    assert old.reward_model.techniques.stop_accuracy is None
    assert old.reward_model.techniques == TechniquesConfig()  # every technique off
    raw["reward_model"]["techniques"] = dataclasses.asdict(config.reward_model.techniques)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert load_config(tmp_path) == config  # a file that records the setting keeps it
