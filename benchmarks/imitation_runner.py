"""One run of imitation 1.0.1's preference comparisons, for ``benchmarks/label_efficiency.py``.

Runs under the python of imitation's own virtual environment (``benchmarks/.work/imitation-venv``: imitation
1.0.1, gymnasium 0.29, stable-baselines3 2.2.1, mujoco 2.3.7), so it imports nothing from ``rlhf_robotics``
(which needs gymnasium 1.x). The caller passes the settings it shares with our loop:

- PPO: the same SB3 PPO hyperparameters, ``n_envs`` ``DummyVecEnv`` copies and ``VecNormalize`` of observations
  and of the (learned) reward as ``rlhf_robotics.robotics.config.PPOConfig``; the normaliser wraps imitation's
  reward wrapper, so its ``BufferingWrapper`` still records raw observations and true rewards;
- the env-step budget (``PreferenceComparisons.train(total_timesteps=...)``), the label budget
  (``total_comparisons``), label rounds (``num_iterations``), the share of labels on the initial policy
  (``initial_comparison_frac``) and the fragment length (our segment length);
- the teacher: ``oracle`` is imitation's ``SyntheticGatherer(temperature=0)`` (a perfect argmax, 0.5 on exact
  ties); ``mistake`` is that oracle with each answer flipped with probability ``--mistake`` (B-Pref's ε = 0.1;
  imitation has no such gatherer, so a subclass adds the flip).

Everything else is imitation's default (``BasicRewardNet`` with ``RunningNorm`` inputs as in its quickstart,
``RandomFragmenter``, ``BasicRewardTrainer`` with the cross-entropy loss, ``initial_epoch_multiplier=200``,
hyperbolic query schedule). The final policy is evaluated as ``rlhf_robotics.robotics.evaluation
.evaluate_true_return`` does: deterministic actions, frozen observation statistics, ``--eval-episodes``
episodes from seed ``seed + 10000``. Writes one JSON object to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _flip_gatherer(base: type, mistake: float, rng: np.random.Generator) -> Any:
    """A perfect SyntheticGatherer whose every answer is flipped with probability ``mistake``."""

    class MistakeGatherer(base):  # type: ignore[misc, valid-type]
        def __call__(self, fragment_pairs: Sequence[Any]) -> np.ndarray:
            prefs = np.asarray(super().__call__(fragment_pairs), dtype=np.float32)
            flip = rng.random(prefs.shape) < mistake
            return np.where(flip, 1.0 - prefs, prefs).astype(np.float32)

    return MistakeGatherer(temperature=0, sample=False)


def step_targets(steps: int, calls: int, rollout: int) -> list[int]:
    """Cumulative env steps the agent should have after each of ``calls`` training calls: whole rollouts, as even
    as they can be, ending exactly on ``steps``."""
    if steps < 1 or calls < 1 or rollout < 1:
        raise ValueError(f"steps, calls and rollout must be >= 1, got {steps}, {calls}, {rollout}")
    targets = [min(steps, math.ceil(steps * (k + 1) / calls / rollout) * rollout) for k in range(calls)]
    targets[-1] = steps
    return targets


def evaluate(model: Any, env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int, obs_rms: Any) -> dict[str, float]:
    """Mean true return over ``episodes`` episodes with deterministic actions (our evaluation protocol)."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv: Any = DummyVecEnv([lambda: Monitor(gym.make(env_id, **env_kwargs))])
    if obs_rms is not None:
        venv = VecNormalize(venv, training=False, norm_obs=True, norm_reward=False)
        venv.obs_rms = obs_rms
    venv.seed(seed)
    venv.action_space.seed(seed)
    returns: list[float] = []
    obs = venv.reset()
    while len(returns) < episodes:
        action, _ = model.predict(obs, deterministic=True)
        obs, _, dones, infos = venv.step(action)
        if dones[0]:
            returns.append(float(infos[0]["episode"]["r"]))
    venv.close()
    return {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "episodes": len(returns)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="gymnasium 0.29 id, e.g. HalfCheetah-v4")
    parser.add_argument("--env-kwargs", default="{}", help="JSON object of gym.make arguments")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--labels", type=int, required=True)
    parser.add_argument("--teacher", choices=["oracle", "mistake"], required=True)
    parser.add_argument("--mistake", type=float, default=0.1)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--fragment-length", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--initial-fraction", type=float, default=0.25)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--ppo", default="{}", help="JSON object of PPOConfig fields")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    try:
        import imitation
    except ImportError:
        parser.error(f"imitation is not installed for {sys.executable}; run this script with "
                     "benchmarks/.work/imitation-venv/bin/python (label_efficiency.py creates that environment)")
    import gymnasium as gym
    import stable_baselines3
    import torch
    from imitation.algorithms import preference_comparisons as pc
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util import logger as imit_logger
    from imitation.util.networks import RunningNorm
    from imitation.util.util import make_vec_env
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    ppo = json.loads(args.ppo)
    env_kwargs = json.loads(args.env_kwargs)
    rng = np.random.default_rng(args.seed)
    logger = imit_logger.configure(folder=str(out.parent / (out.stem + ".imitation_log")), format_strs=["csv"])

    venv = make_vec_env(args.env, rng=rng, n_envs=args.n_envs, env_make_kwargs=env_kwargs)
    reward_net = BasicRewardNet(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    net_arch = list(ppo.get("net_arch", [64, 64]))
    agent = PPO(
        "MlpPolicy", venv, n_steps=ppo.get("n_steps", 512), batch_size=ppo.get("batch_size", 256),
        n_epochs=ppo.get("n_epochs", 10), learning_rate=ppo.get("learning_rate", 3e-4), gamma=ppo.get("gamma", 0.99),
        gae_lambda=ppo.get("gae_lambda", 0.95), clip_range=ppo.get("clip_range", 0.2), ent_coef=ppo.get("ent_coef", 0.0),
        seed=args.seed, device="cpu", verbose=0,
        policy_kwargs=dict(log_std_init=ppo.get("log_std_init", -1.0), net_arch=dict(pi=net_arch, vf=net_arch)),
    )
    trainer = pc.AgentTrainer(algorithm=agent, reward_fn=reward_net, venv=venv, exploration_frac=0.0, rng=rng,
                              custom_logger=logger)
    normalized: VecNormalize | None = None
    if ppo.get("normalize_obs", True) or ppo.get("normalize_reward", True):
        normalized = VecNormalize(trainer.venv, norm_obs=ppo.get("normalize_obs", True),
                                  norm_reward=ppo.get("normalize_reward", True), gamma=ppo.get("gamma", 0.99))
        agent.set_env(normalized)
    if args.teacher == "oracle":
        gatherer = pc.SyntheticGatherer(temperature=0, sample=False, custom_logger=logger)
    else:
        gatherer = _flip_gatherer(pc.SyntheticGatherer, args.mistake, np.random.default_rng(args.seed + 1))
    reward_trainer = pc.BasicRewardTrainer(preference_model=pc.PreferenceModel(reward_net), loss=pc.CrossEntropyRewardLoss(),
                                           rng=rng, custom_logger=logger)
    algo = pc.PreferenceComparisons(
        trainer, reward_net, num_iterations=args.rounds, fragmenter=pc.RandomFragmenter(rng=rng, warning_threshold=0),
        preference_gatherer=gatherer, reward_trainer=reward_trainer, fragment_length=args.fragment_length,
        initial_comparison_frac=args.initial_fraction, custom_logger=logger,
    )
    # PreferenceComparisons.train trains the agent num_iterations + 1 times (after the initial comparisons and
    # after each iteration), total_timesteps // num_iterations steps each: 1.1x the budget, and SB3 rounds
    # every call up to whole rollouts. Spread exactly --steps over those calls, in whole rollouts, so every arm
    # learns from the same number of env steps.
    calls = args.rounds + 1
    targets = step_targets(args.steps, calls, int(ppo.get("n_steps", 512)) * args.n_envs)
    agent_train = trainer.train
    done_calls = [0]

    def exact_train(steps: int, **kwargs: Any) -> None:
        target = targets[min(done_calls[0], calls - 1)]
        done_calls[0] += 1
        if target > agent.num_timesteps:
            agent_train(target - agent.num_timesteps, **kwargs)

    trainer.train = exact_train  # type: ignore[method-assign]
    start = time.perf_counter()
    algo.train(total_timesteps=args.steps, total_comparisons=args.labels)
    wall = time.perf_counter() - start
    ev_start = time.perf_counter()
    ret = evaluate(agent, args.env, env_kwargs, args.eval_episodes, args.seed + 10_000,
                   normalized.obs_rms if normalized is not None and normalized.norm_obs else None)
    result = {
        "return_true": ret,
        "labels_used": int(len(algo.dataset)),
        "policy_env_steps": int(agent.num_timesteps),
        "agent_train_calls": done_calls[0],
        "wall_seconds": wall,
        "wall_seconds_evaluation": time.perf_counter() - ev_start,
        "software": {"imitation": imitation.__version__, "gymnasium": gym.__version__,
                     "stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
                     "mujoco": __import__("mujoco").__version__, "python": platform.python_version()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
