from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rlhf_robotics.cli.train import CONF_DIR, experiment_config
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.typed_config import ConfigError

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
GROUP_OPTIONS = [(g.name, p.stem) for g in Path(CONF_DIR).iterdir() if g.is_dir() and g.name not in ("experiment", "sweep", "lm", "label", "__pycache__")
                 for p in g.glob("*.yaml")]


def _compose(overrides: list[str]) -> ExperimentConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["run_dir=/tmp/x", *overrides])
    return experiment_config(cfg)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_file_composes(experiment: str) -> None:
    assert isinstance(_compose([f"+experiment={experiment}"]), ExperimentConfig)


EXTERNAL = ("dmc_", "mw_")
"""Env options of the 'suites' extra: this install cannot make them (no dm-control, no metaworld); they compose and
run in tests/envs/test_external_suites.py, in a virtual environment with the extra."""


@pytest.mark.parametrize("group,option", GROUP_OPTIONS)
def test_every_group_option_composes(group: str, option: str) -> None:
    import importlib.util

    if group == "env" and option.startswith(EXTERNAL) and importlib.util.find_spec("dm_control") is None:
        with pytest.raises(ConfigError, match=r"pip install 'rlhf_robotics\[suites\]'"):  # composed, then refused
            _compose([f"{group}={option}"])
        return
    assert isinstance(_compose([f"{group}={option}"]), ExperimentConfig)


def test_issue_example_overrides_reach_the_typed_config() -> None:
    c = _compose(["env=hopper", "teacher=mistake", "reward_model.ensemble_size=5", "selection=disagreement", "labels.total=700"])
    assert (c.env.id, c.teacher.preset, c.reward_model.ensemble_size, c.selection.name, c.labels.total) == (
        "Hopper-v5", "mistake", 5, "disagreement", 700)
    assert c.env.kwargs == {"terminate_when_unhealthy": False}
    assert c.reward_model.mlp.hidden_sizes == (64, 64)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["env.id=Hoper-v5"], r"env.id: unknown environment id 'Hoper-v5'.*Hopper-v5"),
        (["teacher.preset=perfectionist"], r"unknown teacher preset 'perfectionist'; expected one of oracle"),
        (["labels.total=-3"], r"labels.total must be a positive number of comparisons, got -3"),
        (["labels.total=many"], r"labels.total='many': expected an integer"),
        (["selection.name=greedy"], r"unknown selection 'greedy'"),
        (["reward_model.trainer.regularisation=dropout"], r"regularisation='dropout'"),
    ],
)
def test_bad_values_name_key_value_and_allowed(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _compose(overrides)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_unknown_group_option_and_key_fail_before_work(tmp_path: Path) -> None:
    r = _cli("teacher=perfectionist", f"run_dir={tmp_path}/r", cwd=tmp_path)
    assert r.returncode != 0 and "perfectionist" in r.stderr and "oracle" in r.stderr
    r = _cli("labels.budget=5", f"run_dir={tmp_path}/r", cwd=tmp_path)
    assert r.returncode != 0 and "budget" in r.stderr
    r = _cli("labels.total=-1", f"run_dir={tmp_path}/r", cwd=tmp_path)
    assert r.returncode == 2 and "labels.total must be a positive number" in r.stderr
    assert not (tmp_path / "r" / "preferences.sqlite").exists()


def test_cli_refuses_to_overwrite_an_existing_run(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "preferences.sqlite").write_bytes(b"precious")
    r = _cli("+experiment=smoke", f"run_dir={run}", cwd=tmp_path)
    assert r.returncode != 0 and "already holds a run" in r.stderr
    assert (run / "preferences.sqlite").read_bytes() == b"precious"


def test_method_presets_give_the_papers_schedules() -> None:
    from rlhf_robotics.robotics.schedule import label_schedule

    pebble = _compose(["method=pebble", "labels.total=1000", "total_steps=500000"])
    assert (pebble.algo, pebble.pretrain.steps, pebble.pretrain.k, pebble.off_policy.learning_starts) == ("sac", 9000, 5, 1000)
    assert pebble.off_policy.relabel and pebble.pretrain.reset_critic and pebble.pretrain.reset_updates == 100
    labels = pebble.labels
    assert label_schedule(1000, labels.initial_fraction, labels.rounds, 490_000, labels.schedule_timescale) == [100] * 10
    rm = pebble.reward_model  # B-Pref's reward updates: 50 epochs, stopping at 97 % training accuracy
    assert (rm.trainer.epochs, rm.refit_epochs, rm.techniques.stop_accuracy) == (50, 50, 0.97)
    bpref = _compose(["method=pebble", "off_policy=bpref"]).off_policy
    assert (bpref.net_arch, bpref.batch_size, bpref.learning_rate, bpref.ent_coef, bpref.target_update_interval) == (
        [1024, 1024], 1024, 5e-4, "auto_0.1", 2)
    ablation = _compose(["method=sac_relabel"])
    assert (ablation.algo, ablation.pretrain.steps, ablation.off_policy.relabel) == ("sac", 0, True)
    assert _compose(["method=christiano", "run_dir=r"]) == _compose(["run_dir=r"])  # the defaults, named
    ppo = _compose(["method=pebble", "algo=ppo"])  # PEBBLE's pre-training under PPO: the rollouts get the reward
    assert (ppo.algo, ppo.pretrain.steps) == ("ppo", pebble.pretrain.steps)
    with pytest.raises(ConfigError, match="off_policy.ent_coef='auto_x'"):
        _compose(["off_policy.ent_coef=auto_x"])
