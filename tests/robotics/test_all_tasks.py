"""Every Gymnasium MuJoCo v5 task goes through the whole loop with the shipped env configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rlhf_robotics.cli.train import CONF_DIR, experiment_config
from rlhf_robotics.robotics.loop import run_experiment

ENV_CONFIGS = sorted(p.stem for p in (Path(CONF_DIR) / "env").glob("*.yaml") if not p.stem.startswith(("dmc_", "mw_")))
"""Every env config of this install; the DeepMind Control and Meta-World ones (the 'suites' extra, MuJoCo 3.3.0) run
through the loop in tests/envs/test_external_suites.py, in a virtual environment with that extra."""


@pytest.mark.slow
@pytest.mark.parametrize("env", ENV_CONFIGS)
def test_every_env_config_runs_the_loop(env: str, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            f"env={env}", f"run_dir={tmp_path}/run", "total_steps=512", "labels.total=8", "labels.rounds=1",
            "labels.initial_steps=600", "env.n_envs=2", "ppo.n_steps=128", "ppo.batch_size=128", "ppo.n_epochs=1",
            "baseline=false", "video=false", "eval_episodes=1", "reward_model.trainer.epochs=2",
        ])
    config = experiment_config(cfg)
    summary = run_experiment(config, progress=False)
    assert summary.labels_used == 8
    assert summary.label_counts.get("first", 0) + summary.label_counts.get("second", 0) + summary.label_counts.get("tie", 0) == 8
    assert summary.policy_return_true.episodes == 1
