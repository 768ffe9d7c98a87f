"""The checkpoint stage: what a run keeps after every round and after every phase of its final report.

``checkpoints/round_NNN/`` holds the policy (SB3's zip), the reward ensemble (state dict + metadata, readable by
:mod:`rlhf_robotics.robotics.saved_run`), the observation/return normalisation (an npz, and SB3's ``VecNormalize``
pickle for users of ``VecNormalize.load``) and ``state.json`` (round, step count, every random stream, the
learning curve, phase times). ``latest.json`` names the last complete round; ``final.json`` collects the final
report's phases as they end. A resumed run restores all of it. A policy trained without a reward model (the suite
benchmark's PPO on the true reward) is saved in the same layout, less the ensemble, so the same readers load it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rlhf_robotics.preference.ensemble import EnsembleMetadata, MLPConfig, RewardEnsemble
from rlhf_robotics.preference.rundir import atomic_write
from rlhf_robotics.robotics.evaluation import ReturnStats, SuccessRate
from rlhf_robotics.robotics.policy import obs_rms

if TYPE_CHECKING:
    from rlhf_robotics.robotics.loop import Stages

TRUE_REWARD = "true"
"""``reward`` in the ``state`` of :meth:`Checkpointer.save_policy` for a policy trained on the task's true
reward, without labels (the gallery describes it so)."""


class Checkpointer:
    """Writes and reads one run's checkpoints under ``<run_dir>/checkpoints``."""

    def __init__(self, run_dir: Path) -> None:
        self.root = Path(run_dir) / "checkpoints"

    def save(self, round: int, agent: Any, ensemble: RewardEnsemble, meta: EnsembleMetadata, venv: VecEnv,
             state: dict[str, Any]) -> Path:
        """Checkpoint round ``round``: ``agent.save(dir)``, the ensemble, ``venv``'s normalisation and ``state``
        (anything JSON), then point ``latest.json`` at it."""
        d = self.root / f"round_{round:03d}"
        d.mkdir(parents=True, exist_ok=True)
        agent.save(d)
        torch.save(ensemble.state_dict(), d / "reward_model.pt")
        (d / "reward_model.json").write_text(json.dumps(asdict(meta)))
        return self._finish(d, round, venv, state)

    def save_policy(self, round: int, model: BaseAlgorithm, venv: VecEnv, state: dict[str, Any]) -> Path:
        """Checkpoint a policy trained without a reward model (e.g. PPO on the true reward): SB3's zip, ``venv``'s
        normalisation and ``state`` (at least ``num_timesteps``), then point ``latest.json`` at it; readable by
        :mod:`rlhf_robotics.robotics.saved_run` (``load_policy``, ``load_obs_rms``) and the gallery."""
        d = self.root / f"round_{round:03d}"
        d.mkdir(parents=True, exist_ok=True)
        model.save(d / "policy.zip")
        return self._finish(d, round, venv, state)

    def _finish(self, d: Path, round: int, venv: VecEnv, state: dict[str, Any]) -> Path:
        """Write ``venv``'s normalisation and ``state`` into checkpoint ``d``, then name it in ``latest.json``."""
        if isinstance(venv, VecNormalize):
            rms = obs_rms(venv)
            np.savez(d / "vecnormalize.npz", obs_mean=rms.mean if rms else 0, obs_var=rms.var if rms else 1,
                     obs_count=rms.count if rms else 0, ret_mean=venv.ret_rms.mean, ret_var=venv.ret_rms.var,
                     ret_count=venv.ret_rms.count)
            venv.save(str(d / "vecnormalize.pkl"))  # SB3's format: VecNormalize.load(path, venv)
        (d / "state.json").write_text(json.dumps({"round": round, **state}, default=int))
        (self.root / "latest.json").write_text(json.dumps({"round": round, "dir": d.name}))
        return d

    def keep_latest_only(self) -> list[Path]:
        """Delete every round's checkpoint but the one ``latest.json`` names (the final policy, once a run has
        finished), so a finished run keeps what ``rlhf-robotics eval`` and the gallery replay and stays small;
        returns the deleted folders. A run without a checkpoint is left as it is."""
        saved = self.latest()
        if saved is None:
            return []
        gone = [d for d in sorted(self.root.glob("round_*")) if d.is_dir() and d != saved[0]]
        for d in gone:
            shutil.rmtree(d)
        return gone

    def save_round(self, round: int, stages: Stages, mlp: MLPConfig, initial_return: ReturnStats | None,
                   initial_success: SuccessRate | None = None) -> Path:
        """Checkpoint the loop's ``stages`` after round ``round``: agent, ensemble, normalisation, step count, every
        random stream, the learning curve, phase times and the initial policy's return."""
        s = stages
        meta = EnsembleMetadata(s.collector.obs_dim + s.collector.act_dim, s.fitter.ensemble.size, mlp)
        return self.save(round, s.agent, s.fitter.ensemble, meta, s.collector.venv, {
            "num_timesteps": s.agent.num_timesteps, "rng": {k: g.bit_generator.state for k, g in s.rng.items()},
            "curve": s.agent.curve, "timer": dict(s.timer.seconds),
            "initial_return": asdict(initial_return) if initial_return else None,
            "initial_success": asdict(initial_success) if initial_success else None})

    def load_round(self, stages: Stages) -> tuple[int, ReturnStats | None, SuccessRate | None] | None:
        """Restore ``stages`` to the last checkpoint; its round and the initial policy's return and verifier success,
        or None without a checkpoint."""
        saved = self.latest()
        if saved is None:
            return None
        d, state = saved
        s = stages
        s.agent.load(d, state["num_timesteps"], state["curve"])
        self.restore(d, s.fitter.ensemble, s.collector.venv)
        for k, st in state["rng"].items():
            s.rng[k].bit_generator.state = st
        s.timer.seconds.update(state["timer"])
        return (state["round"], ReturnStats(**state["initial_return"]) if state.get("initial_return") else None,
                SuccessRate(**state["initial_success"]) if state.get("initial_success") else None)

    def latest(self) -> tuple[Path, dict[str, Any]] | None:
        """The last complete round's directory and state, or None before the first checkpoint."""
        latest = self.root / "latest.json"
        if not latest.exists():
            return None
        d = self.root / json.loads(latest.read_text())["dir"]
        return d, json.loads((d / "state.json").read_text())

    @staticmethod
    def restore(d: Path, ensemble: RewardEnsemble, venv: VecEnv) -> None:
        """Load the ensemble's weights and ``venv``'s normalisation statistics from checkpoint ``d``."""
        ensemble.load_state_dict(torch.load(d / "reward_model.pt", weights_only=True))
        Checkpointer.restore_normalisation(d, venv)

    @staticmethod
    def restore_normalisation(d: Path, venv: VecEnv) -> None:
        """Load ``venv``'s observation and return statistics from checkpoint ``d`` (nothing without them)."""
        if isinstance(venv, VecNormalize) and (d / "vecnormalize.npz").exists():
            with np.load(d / "vecnormalize.npz") as z:
                rms = obs_rms(venv)
                if rms is not None:
                    rms.mean, rms.var, rms.count = z["obs_mean"], z["obs_var"], float(z["obs_count"])
                venv.ret_rms.mean, venv.ret_rms.var, venv.ret_rms.count = z["ret_mean"], z["ret_var"], float(z["ret_count"])

    def final_state(self) -> dict[str, Any]:
        """The final report's finished phases (``final.json``), empty before the first."""
        path = self.root / "final.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def save_final_state(self, state: dict[str, Any]) -> None:
        atomic_write(self.root / "final.json", json.dumps(state, default=float))
