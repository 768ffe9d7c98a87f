"""Run inside a virtual environment with the ``suites`` extra (MuJoCo 3.3.0): every DeepMind Control and
Meta-World env config through the loop at a tiny budget, the base suite's tasks beside them, and clips of a DMC
and a Meta-World task rendered from stored states. Prints one JSON object (read by test_external_suites.py)."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import yaml

from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    OffPolicyConfig,
    PPOConfig,
    PretrainConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import run_experiment
from rlhf_robotics.robotics.physics import moves_fixtures
from rlhf_robotics.robotics.segments import SegmentStore


def tiny(env_id: str, run_dir: Path, algo: str) -> ExperimentConfig:
    return ExperimentConfig(
        env=EnvConfig(id=env_id, n_envs=1, segment_steps=10),
        labels=LabelsConfig(total=8, rounds=2, initial_steps=100, buffer_steps=300),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=3)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=1),
        algo=algo,  # type: ignore[arg-type]
        off_policy=OffPolicyConfig(buffer_size=2000, learning_starts=20, batch_size=16, net_arch=[16, 16]),
        pretrain=PretrainConfig(steps=40, reset_updates=2) if algo == "sac" else PretrainConfig(),
        total_steps=160, seed=0, run_dir=str(run_dir), baseline=False, eval_episodes=1, video=False,
    )


def render_check(env_id: str, out: Path) -> dict[str, object]:
    import gymnasium as gym

    from rlhf_robotics.robotics.rendering import RenderConfig, render_clip, render_frames

    env = gym.make(env_id)
    env.reset(seed=0)
    data = env.unwrapped.data  # type: ignore[attr-defined]
    qpos, qvel = [data.qpos.copy()], [data.qvel.copy()]
    for _ in range(40):
        env.step(env.action_space.sample())
        qpos.append(data.qpos.copy())
        qvel.append(data.qvel.copy())
    dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
    env.close()
    q, v = np.stack(qpos), np.stack(qvel)
    config = RenderConfig(width=96, height=96)
    frames = render_frames(env_id, q, v, dt, config)
    again = render_frames(env_id, q[[0, 0]], v[[0, 0]], dt, config)
    clip = render_clip(env_id, q, v, dt, out, config)
    return {"frames": int(len(frames)), "first_equals_its_rerender": bool(np.array_equal(frames[0], again[0])),
            "first_differs_from_last": bool(np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 0),
            "distinct_colours": int(len(np.unique(frames[0].reshape(-1, 3), axis=0))), "clip_bytes": clip.stat().st_size}


def fixture_check(env_id: str) -> dict[str, object]:
    """A task that places model parts per episode: two seeds' fixtures differ, a fresh environment reset with the same
    seed places them the same, a clip shows the stored episode's parts (not the model's defaults), and the
    renderer's model is left as it was."""
    import gymnasium as gym
    import rlhf_robotics.envs  # noqa: F401  (registers the ids)

    from rlhf_robotics.robotics.physics import fixture_vector
    from rlhf_robotics.robotics.rendering import RenderConfig, render_frames

    env = gym.make(env_id)
    fixtures, states = [], []
    for seed in (0, 1):
        env.reset(seed=seed)
        fixtures.append(fixture_vector(env.unwrapped.model))  # type: ignore[attr-defined]
        data = env.unwrapped.data  # type: ignore[attr-defined]
        states.append((data.qpos.copy()[None], data.qvel.copy()[None]))
    env.close()
    again = gym.make(env_id)  # a fresh environment (fresh variations, for Meta-World) with seed 0 again
    again.reset(seed=0)
    repeated = fixture_vector(again.unwrapped.model)  # type: ignore[attr-defined]
    again.close()
    config = RenderConfig(width=96, height=96)
    q, v = states[0]
    plain = render_frames(env_id, q, v, 0.01, config)
    first = render_frames(env_id, q, v, 0.01, config, fixtures[0])
    second = render_frames(env_id, q, v, 0.01, config, fixtures[1])
    return {"episodes_place_parts_differently": bool(not np.allclose(fixtures[0], fixtures[1])),
            "a_seed_repeats_its_placement": bool(np.array_equal(fixtures[0], repeated)),
            "fixtures_change_the_clip": bool(np.abs(first.astype(int) - second.astype(int)).sum() > 0),
            "model_restored": bool(np.array_equal(plain, render_frames(env_id, q, v, 0.01, config)))}


def main(root: Path, work: Path) -> None:
    configs = sorted((root / "conf" / "env").glob("dmc_*.yaml")) + sorted((root / "conf" / "env").glob("mw_*.yaml"))
    results: dict[str, object] = {"mujoco": version("mujoco"), "runs": {}}
    runs: dict[str, object] = {}
    for path in configs:
        env_id = yaml.safe_load(path.read_text())["id"]
        summary = run_experiment(tiny(env_id, work / path.stem, "sac"), progress=False)
        store = SegmentStore(work / path.stem / "segments")
        stored = store.get(store.ids())
        runs[path.stem] = {"env_id": env_id, "labels_used": summary.labels_used,
                           "return": summary.policy_return_true.mean, "moves_fixtures": moves_fixtures(env_id),
                           "segments_keep_fixtures": stored.fixtures is not None,
                           "success_rate": None if summary.policy_success is None else summary.policy_success.rate}
    for env_id in ("HalfCheetah-v5", "rlhf_robotics/HopperBackflip-v3"):  # the base suite on this MuJoCo
        summary = run_experiment(tiny(env_id, work / env_id.replace("/", "_"), "ppo"), progress=False)
        runs[env_id] = {"env_id": env_id, "labels_used": summary.labels_used, "return": summary.policy_return_true.mean}
    results["runs"] = runs
    results["render"] = {env_id: render_check(env_id, work / "clips")
                         for env_id in ("rlhf_robotics/dmc-walker-walk-v0", "rlhf_robotics/mw-button-press-v3")}
    results["fixtures"] = {env_id: fixture_check(env_id)
                           for env_id in ("rlhf_robotics/dmc-reacher-easy-v0", "rlhf_robotics/mw-button-press-v3")}
    print(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
