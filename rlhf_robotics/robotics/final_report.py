"""The final report: the trained policy on the hidden true objective, the reward model against it, the same
algorithm on the true reward at equal steps (the baseline), the learning-curve plot, the video and ``summary.json``.

Each phase's result goes to ``checkpoints/final.json`` as it ends, so a run killed in any phase resumes at that
phase (a phase cut short is redone from its start; each is deterministic per seed). ``summary.json`` is written
last, atomically: its presence means the run is finished.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import configure as configure_logger

from rlhf_robotics.preference.ensemble import StackedStepReward
from rlhf_robotics.preference.rundir import atomic_write
from rlhf_robotics.robotics.agent import Agent
from rlhf_robotics.robotics.checkpoint import Checkpointer
from rlhf_robotics.robotics.collector import Collector
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.evaluation import (
    PolicyEvaluation,
    ReturnStats,
    SuccessRate,
    evaluate_policy,
    fraction_of_baseline,
    normalized_score,
    pair_accuracy,
    pearson,
    plot_learning_curves,
    record_video,
)
from rlhf_robotics.robotics.policy import (
    CurveCallback,
    PhaseTimer,
    make_agent,
    make_vec_env,
    normalize_for,
    obs_rms,
    progress_bar,
)
from rlhf_robotics.robotics.reward_fit import RewardFitter
from rlhf_robotics.robotics.run_log import MetricsLog
from rlhf_robotics.robotics.summary import Summary, success_metrics

_LOOP_PHASES = ("policy_learn", "reward_training", "selection", "labelling", "checkpoint")


class FinalReport:
    """Evaluates a finished run and writes its summary.

    Args:
        config: the experiment.
        make_env: a factory of single evaluation envs of the task.
        checkpointer: where each finished phase is kept (``final.json``).
        metrics: the run's metrics log.
        timer: the loop's phase timer (``evaluation``, ``baseline``).
        device, progress: for the baseline's training.
    """

    def __init__(self, config: ExperimentConfig, make_env: Callable[[], gym.Env], checkpointer: Checkpointer,
                 metrics: MetricsLog, timer: PhaseTimer, device: str, progress: bool = True) -> None:
        self.config, self.make_env, self.checkpointer, self.metrics = config, make_env, checkpointer, metrics
        self.timer, self.device, self.progress = timer, device, progress
        self.run_dir = Path(config.run_dir)

    def initial_evaluation(self, agent: Agent, collector: Collector) -> PolicyEvaluation:
        """The untrained policy's true return and verifier success (the summary's ``initial_policy_*``)."""
        with self.timer("evaluation"):
            return evaluate_policy(agent.model, self.make_env, self.config.eval_episodes, self.config.seed + 10_000,
                                   collector.obs_rms)

    def write(self, agent: Agent, collector: Collector, fitter: RewardFitter, rng: np.random.Generator,
              initial: tuple[ReturnStats | None, SuccessRate | None], labels_used: int, round: int,
              status: Callable[[str, str], None]) -> Summary:
        """Run the phases not finished yet, then write ``summary.json``; ``status(state, message)`` tells the
        labelling app what is happening."""
        c = self.config
        self.timer.seconds["loop_total"] = sum(v for k, v in self.timer.seconds.items() if k in _LOOP_PHASES)
        ev_seed = c.seed + 10_000
        state = self.checkpointer.final_state()
        self.timer.seconds.update(state.get("timer", {}))
        if "evaluation" not in state:
            status("waiting_for_policy", "training is over: final evaluation of the policy")
            with self.timer("evaluation"):
                ours_ev = evaluate_policy(agent.model, self.make_env, c.eval_episodes, ev_seed, collector.obs_rms)
                rand_ev = evaluate_policy(None, self.make_env, c.eval_episodes, ev_seed)
                acc, corr_step, corr_seg = reward_quality(collector, fitter, rng)
            state["evaluation"] = {"policy": asdict(ours_ev.returns), "random": asdict(rand_ev.returns), "accuracy": acc,
                                   "correlation_step": corr_step, "correlation_segment": corr_seg,
                                   "policy_success": asdict(ours_ev.success), "random_success": asdict(rand_ev.success)}
            state["timer"] = dict(self.timer.seconds)
            self.checkpointer.save_final_state(state)
        ev = state["evaluation"]
        ours, rand = ReturnStats(**ev["policy"]), ReturnStats(**ev["random"])
        ours_success, rand_success = (SuccessRate(**ev[k]) if k in ev else None for k in ("policy_success", "random_success"))
        baseline: ReturnStats | None = None
        baseline_success: SuccessRate | None = None
        baseline_curve: list[tuple[int, float]] = []
        if c.baseline:
            if "baseline" not in state:
                status("waiting_for_policy", f"training is over: baseline {c.algo.upper()} on the true reward")
                with self.timer("baseline"):
                    stats, curve = self.train_baseline(ev_seed, agent.curve_interval)
                state["baseline"] = {"stats": asdict(stats.returns), "curve": curve, "success": asdict(stats.success)}
                state["timer"] = dict(self.timer.seconds)
                self.checkpointer.save_final_state(state)
            baseline = ReturnStats(**state["baseline"]["stats"])
            baseline_success = SuccessRate(**state["baseline"]["success"]) if "success" in state["baseline"] else None
            baseline_curve = [(int(step), float(ret)) for step, ret in state["baseline"]["curve"]]
        files = {"run_dir": str(self.run_dir), "metrics": str(self.metrics.path), "store": fitter.store.path}
        with self.timer("evaluation"):
            files["learning_curve"] = str(plot_learning_curves(
                {f"{c.algo.upper()} on the learned reward": [(int(p["step"]), p["policy/return_true"]) for p in agent.curve],
                 f"{c.algo.upper()} on the true reward": baseline_curve},
                self.run_dir / "learning_curve.png",
                f"{c.env.id}: {labels_used} labels, {c.teacher.preset} teacher, seed {c.seed}",
                learned_curve=[(int(p["step"]), p["policy/return_learned"]) for p in agent.curve if "policy/return_learned" in p],
            ))
        if c.video:
            if "video" not in state:
                status("waiting_for_policy", "training is over: recording the policy video")
                with self.timer("evaluation"):
                    state["video"] = self.record_policy_video(agent, collector, ev_seed)
                self.checkpointer.save_final_state(state)
            files.update(state["video"])
        counts: dict[str, int] = defaultdict(int)
        for row in fitter.judgment_rows:
            counts[row.judgment.label] += 1
        val_acc = next((r["reward_model/val_accuracy"] for r in reversed(self.metrics.rows()) if "reward_model/val_accuracy" in r),
                       math.nan)
        summary = Summary(
            env_id=c.env.id, total_steps=c.total_steps, seed=c.seed, labels_used=labels_used,
            label_counts=dict(counts), policy_return_true=ours, initial_policy_return_true=initial[0],
            random_return_true=rand, baseline_return_true=baseline,
            fraction_of_true_reward_ppo=fraction_of_baseline(ours.mean, baseline.mean) if baseline is not None else None,
            normalized_score=normalized_score(ours.mean, rand.mean, baseline.mean) if baseline is not None else None,
            reward_model_accuracy_vs_oracle=ev["accuracy"], reward_model_val_accuracy=val_acc,
            reward_correlation_step=ev["correlation_step"], reward_correlation_segment=ev["correlation_segment"],
            wall_seconds=dict(self.timer.seconds), files=files, reference_return=c.env.reference_return,
            score_vs_reference=(normalized_score(ours.mean, rand.mean, c.env.reference_return)
                                if c.env.reference_return is not None else None),
            policy_success=ours_success, initial_policy_success=initial[1], random_success=rand_success,
            baseline_success=baseline_success,
        )
        self.metrics.write(round, agent, {**{k: v for k, v in {
            "policy/return_true_final": ours.mean, "random/return_true": rand.mean,
            "baseline/return_true": baseline.mean if baseline else None,
            "reward_model/accuracy_vs_oracle": ev["accuracy"]}.items() if v is not None}, **success_metrics(summary)})
        atomic_write(self.run_dir / "summary.json", json.dumps(summary.to_json(), indent=2, default=float))
        return summary

    def record_policy_video(self, agent: Agent, collector: Collector, seed: int) -> dict[str, str]:
        """The final policy's video as ``video.mp4`` in the run directory, and a copy under ``video_dir`` named
        uniquely after the run directory's path (so two sweeps' job ``0`` never overwrite each other)."""
        c = self.config
        path = record_video(agent.model, self.make_env, c.env.id, self.run_dir / "video.mp4", collector.obs_rms, seed)
        files = {"video": str(path)}
        if c.video_dir:
            parts = self.run_dir.resolve().parts
            tag = "_".join(p for p in parts[-3:] if p not in ("/", ""))
            digest = hashlib.sha1(str(self.run_dir.resolve()).encode()).hexdigest()[:6]
            copy = Path(c.video_dir) / f"{c.env.id.replace('/', '_')}_{tag}_{digest}_seed{c.seed}.mp4"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            files["video_copy"] = str(copy)
        return files

    def train_baseline(self, ev_seed: int, curve_interval: int) -> tuple[PolicyEvaluation, list[tuple[int, float]]]:
        """The same algorithm with the same settings on the true reward for the same number of steps."""
        c = self.config
        venv = normalize_for(c, make_vec_env(c, c.seed))
        model = make_agent(c, venv, c.seed, self.device)
        model.set_logger(configure_logger(str(self.run_dir / "tb_baseline"), ["tensorboard"]))
        curve: list[dict[str, float]] = []
        with progress_bar(c.total_steps, f"baseline {c.algo.upper()} (true reward)", self.progress) as bar:
            model.learn(c.total_steps, callback=CurveCallback(curve, bar, curve_interval))
        stats = evaluate_policy(model, self.make_env, c.eval_episodes, ev_seed, obs_rms(venv))
        venv.close()
        return stats, [(int(p["step"]), p["policy/return_true"]) for p in curve]


def reward_quality(collector: Collector, fitter: RewardFitter, rng: np.random.Generator) -> tuple[float, float, float]:
    """Accuracy against a perfect oracle on 500 fresh pairs of recent segments, and step/segment reward correlations."""
    segs = collector.segments(1000, rng, "eval")
    pred = fitter.segment_scores(segs.features())
    true = segs.returns()
    acc = pair_accuracy(pred[0::2], pred[1::2], true[0::2], true[1::2])
    feats, rew = collector.steps(5000, rng)
    step_pred = StackedStepReward(fitter.ensemble)(feats)
    return acc, pearson(step_pred, rew), pearson(pred, true)


__all__ = ["FinalReport", "reward_quality"]
