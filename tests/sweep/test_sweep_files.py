"""Every sweep file composes: each value each sweeper parameter takes reaches a valid typed config, and every
launcher option composes with a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.cli.sweep_jobs import planned_jobs
from rlhf_robotics.cli.train import CONF_DIR, experiment_config
from rlhf_robotics.robotics.config import ExperimentConfig

SWEEPS = sorted(p.stem for p in (Path(CONF_DIR) / "sweep").glob("*.yaml"))
GROUPS = {p.name for p in Path(CONF_DIR).iterdir() if p.is_dir()}
LAUNCHERS = sorted(p.stem for p in (Path(CONF_DIR) / "hydra" / "launcher").glob("*.yaml"))


def _compose(overrides: list[str], hydra: bool = False) -> DictConfig:
    """The composed config; with ``hydra=True`` the ``hydra`` node (sweeper, launcher) is kept."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=["run_dir=/tmp/x", *overrides], return_hydra_config=hydra)


def _values(key: str, spec: str) -> list[str]:
    """The override values a sweeper parameter stands for: every choice/range element, an interval's ends."""
    override = OverridesParser.create().parse_overrides([f"{key}={spec}"])[0]
    value = override.value()
    if isinstance(value, (ChoiceSweep, RangeSweep)):
        return list(override.sweep_string_iterator())
    if isinstance(value, IntervalSweep):
        return [str(value.start), str(value.end)]
    return [override.get_value_element_as_str()]


def _params(name: str) -> dict[str, str]:
    cfg = _compose([f"+sweep={name}"], hydra=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert isinstance(params, dict) and params, f"conf/sweep/{name}.yaml has no hydra.sweeper.params"
    return {str(k): str(v) for k, v in params.items()}


def test_the_studies_of_the_issue_are_there() -> None:
    assert {"smoke", "budget_teacher", "ensemble_selection", "segment_length", "reward_model_lr_reg",
            "optuna_reward_model"} <= set(SWEEPS)


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_value_composes_into_a_valid_config(name: str) -> None:
    params = _params(name)
    for key, spec in params.items():
        for value in _values(key, spec):
            cfg = _compose([f"+sweep={name}", f"{key}={value}"])
            assert isinstance(experiment_config(cfg), ExperimentConfig)
            if key not in GROUPS:  # a group option's effect is checked by the group tests in tests/cli
                assert str(OmegaConf.select(cfg, key)).replace(" ", "") == value.replace(" ", ""), (name, key, value)


def test_budget_teacher_covers_the_six_b_pref_teachers() -> None:
    teachers = _values("teacher", _params("budget_teacher")["teacher"])
    assert teachers == ["oracle", "mistake", "noisy", "skip", "myopic", "equal"]
    assert experiment_config(_compose(["+sweep=budget_teacher", "teacher=myopic"])).teacher.preset == "myopic"


def test_smoke_sweep_is_two_settings_by_three_seeds_at_smoke_size() -> None:
    cfg = _compose(["+sweep=smoke"], hydra=True)
    jobs = planned_jobs(cfg)
    assert jobs is not None and len(jobs) == 6
    assert sorted(" ".join(j[:2]) for j in jobs) == sorted(f"teacher={t} seed={s}" for t in ("oracle", "mistake") for s in range(3))
    config = experiment_config(_compose(["+sweep=smoke"]))
    assert (config.total_steps, config.baseline, config.video) == (8000, False, False)
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == 2


def test_optuna_sweep_maximises_the_returned_score_with_the_baseline_on() -> None:
    cfg = _compose(["+sweep=optuna_reward_model"], hydra=True)
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.direction == "maximize"
    assert experiment_config(_compose(["+sweep=optuna_reward_model"])).baseline  # the normalised score needs the true-reward baseline
    assert planned_jobs(cfg) is None


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_launcher_option_composes_with_a_sweep(launcher: str) -> None:
    cfg = _compose(["+sweep=smoke", f"hydra/launcher={launcher}"], hydra=True)
    target = cfg.hydra.launcher._target_
    expected = {"local": "JoblibLauncher", "ray_local": "RayLauncher", "slurm": "SlurmLauncher"}[launcher]
    assert target.endswith(expected), target


def test_every_run_records_its_commit_through_the_callback() -> None:
    cfg = _compose([], hydra=True)
    assert cfg.hydra.callbacks.run_recorder._target_ == "rlhf_robotics.cli.sweep_jobs.RunRecorder"
