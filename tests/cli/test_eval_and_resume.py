"""``rlhf-robotics eval`` on a saved run, and ``resume=`` of a finished run through the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rlhf_robotics.cli.main import entry
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    PPOConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import run_experiment


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlhf_robotics.preference.trainer import RewardTrainerConfig

    run_dir = tmp_path_factory.mktemp("finished") / "run"
    config = ExperimentConfig(
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=12, rounds=2, initial_steps=200, buffer_steps=400),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5)),
        total_steps=256, seed=0, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False,
    )
    run_experiment(replace(config), progress=False)
    return run_dir


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_eval_reports_the_saved_policy_and_writes_only_its_video(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(finished_run)
    assert entry(["eval", f"run={finished_run}", "episodes=2"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["round"] == 2 and result["episodes"] == 2 and result["policy_return_true"]["episodes"] == 2
    assert "true return, saved policy" in out
    video = Path(result["video"])
    assert video.parent == finished_run / "eval" and video.stat().st_size > 0
    assert {p for p in _snapshot(finished_run) if p not in before} == {video}  # nothing else written or changed
    assert all(_snapshot(finished_run)[p] == before[p] for p in before)


@pytest.mark.parametrize(("args", "message"), [
    ([], "run=...: missing"),
    (["run=/no/such/run"], "no run there"),
    (["round=7"], "round=7: no checkpoint"),
    (["episodes=0"], "episodes=0: must be >= 1"),
])
def test_eval_bad_input_exits_2_with_the_fix(finished_run: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             message: str) -> None:
    argv = ["eval", *args] if args and args[0].startswith("run=") else ["eval", *([f"run={finished_run}"] if args else []), *args]
    assert entry(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resuming_a_finished_run_says_so_and_changes_nothing(finished_run: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    before = _snapshot(finished_run)
    # a fresh process: the train command configures logging (Hydra's job_logging) for the whole interpreter
    r = subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", f"resume={finished_run}"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "already finished" in r.stdout
    assert _snapshot(finished_run) == before
    assert list(tmp_path.iterdir()) == []  # no runs/<date>/<time>, no log file
