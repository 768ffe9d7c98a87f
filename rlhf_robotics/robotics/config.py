"""Typed configuration of a robotics preference experiment. The Hydra schema in ``cli/`` mirrors these
dataclasses; library code only ever sees these."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlhf_robotics.preference.ensemble import OUTPUTS, MLPConfig
from rlhf_robotics.preference.selection import check_selector
from rlhf_robotics.preference.teachers import PRESETS
from rlhf_robotics.preference.techniques import TechniquesConfig, check_value
from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.typed_config import from_mapping

check_range = check_value
"""Raise ``ValueError("key=value: must be ...")`` unless ``value`` lies in the given bounds (the core's check).

Every numeric knob is checked when the config is built, so a bad value stops the command before any folder or file
is created (issue 11: ``ppo.batch_size=0`` used to die in an SB3 assertion mid-run)."""


@dataclass
class EnvConfig:
    """Which task, how many copies, and how segments are cut."""

    id: str = "HalfCheetah-v5"
    """Gymnasium id (any MuJoCo task, including the suite's ``rlhf_robotics/...`` tasks)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments, e.g. ``terminate_when_unhealthy: false`` for a fixed horizon (Christiano et al.)."""
    christiano: bool = False
    """Christiano et al. (2017) setup via ``rlhf_robotics.envs.make_christiano``: fixed horizon (termination
    becomes a penalty) and no control cost in the objective. Needed where random policies end episodes
    sooner than a segment (the pendulums)."""
    n_envs: int = 4
    """Vector envs (``DummyVecEnv``: faster than subprocesses on 2 cores)."""
    reference_return: float | None = None
    """A fixed, published return that scores 1 in the summary's ``score_vs_reference`` (random = 0), so runs read
    the same whatever this run's own baseline did (e.g. rl-baselines3-zoo's PPO at 1 M steps); None = no such score."""
    reference_source: str = ""
    """Where ``reference_return`` comes from."""
    segment_seconds: float = 1.5
    """Simulated length of a judged segment (Christiano et al. 2017: 1.5 s)."""
    segment_steps: int | None = None
    """Steps per segment; overrides ``segment_seconds`` when set."""
    min_segment_steps: int = 15
    """Lower bound on steps per segment derived from seconds (the paper's 15–60 steps)."""
    max_segment_steps: int = 60
    """Upper bound on steps per segment derived from seconds."""
    instruction: str = ""
    """What a good episode looks like, in a sentence or two for people judging clips (shown above the pair in
    the labelling app; a study overrides it with ``ui.instruction`` or ``ui.instruction_file``)."""
    clip_width: int = 320
    """Width in pixels of the clips rendered for people (even)."""
    clip_height: int = 320
    """Height in pixels of the clips rendered for people (even; a tall robot gets a tall frame)."""
    camera_distance: float | None = None
    """Camera distance for the clips shown to people (None: the task's own ``default_camera_config``); smaller
    makes the robot fill more of the frame."""
    camera_height: float | None = None
    """Height of the point the camera looks at in clips for people (None: the task's own)."""
    camera_elevation: float | None = None
    """Camera elevation in degrees for clips for people, negative looking down (None: the task's own)."""
    benchmark_steps: int | None = None
    """The task's env-step budget in ``benchmarks/suite.py`` (issue 15: the budget at which PPO on the hidden
    objective should pass the verifier in at least 3 of 5 seeds); None: the task is not in the suite benchmark."""
    benchmark_pretrain_steps: int | None = None
    """Steps of PEBBLE's pre-training for ``benchmarks/suite.py``'s loop on this task (None: the suite preset's,
    ``conf/experiment/suite.yaml``; 0: none). A task whose pre-trained policy ends in states it cannot leave sets
    it, with the reason in its env config."""
    benchmark_loop_settings: dict[str, Any] = field(default_factory=dict)
    """Settings of ``benchmarks/suite.py``'s loop on this task beyond the suite preset's, as dotted keys of the
    experiment config (``selection.same_episode: 0.5``), with the reason in its env config; {}: the preset's alone.
    As rl-zoo keeps per-task hyperparameters; the suite's PPO arm ignores them."""

    def __post_init__(self) -> None:
        check_range("env.n_envs", self.n_envs, ge=1)
        check_range("env.segment_seconds", self.segment_seconds, gt=0)
        if self.segment_steps is not None:
            check_range("env.segment_steps", self.segment_steps, ge=2, why="a segment needs at least two steps")
        check_range("env.min_segment_steps", self.min_segment_steps, ge=2, why="a segment needs at least two steps")
        check_range("env.max_segment_steps", self.max_segment_steps, ge=self.min_segment_steps,
                    why="env.min_segment_steps")
        for key, value in (("env.clip_width", self.clip_width), ("env.clip_height", self.clip_height)):
            check_range(key, value, ge=16, why="pixels")
            if value % 2:
                raise ValueError(f"{key}={value}: must be an even number of pixels (H.264 needs it); try {value + 1}")
        if self.camera_distance is not None:
            check_range("env.camera_distance", self.camera_distance, gt=0, why="metres from the tracked body")
        if self.camera_elevation is not None:
            check_range("env.camera_elevation", self.camera_elevation, ge=-90, le=90, why="degrees")
        if self.benchmark_steps is not None:
            check_range("env.benchmark_steps", self.benchmark_steps, ge=1, why="env steps per benchmark run")
        if self.benchmark_pretrain_steps is not None:
            check_range("env.benchmark_pretrain_steps", self.benchmark_pretrain_steps, ge=0,
                        why="env steps of pre-training; 0 = none")
        for key in self.benchmark_loop_settings:
            if not isinstance(key, str) or "." not in key or key.startswith("env."):
                raise ValueError(f"env.benchmark_loop_settings: key {key!r} is not a dotted key of the experiment config "
                                 "outside env (e.g. selection.same_episode); the task's own settings belong in env itself")
            if key == "pretrain.steps":
                raise ValueError("env.benchmark_loop_settings: pretrain.steps has its own key; set "
                                 "env.benchmark_pretrain_steps instead")


@dataclass
class LabelsConfig:
    """How many comparisons, when, and from whom."""

    total: int = 700
    """Label budget: comparisons asked for over the whole run (skips count against it)."""
    initial_fraction: float = 0.25
    """Share of the budget asked about segments of the initial policy (Christiano: 25 %)."""
    rounds: int = 10
    """Label rounds interleaved with policy updates after the initial one."""
    schedule_timescale: float = 0.25
    """Labels per round ∝ τ/(T+τ) at the round's first step T, with τ = this × total steps
    (Christiano's 2·10⁶/(T+2·10⁶), rescaled to the run)."""
    initial_steps: int = 4000
    """Env steps collected with the initial policy before the first labels."""
    buffer_steps: int = 10000
    """Most recent env steps (over all envs) that segments are cut from."""
    source: Literal["teacher", "human"] = "teacher"
    """Who answers: a synthetic teacher, or people in the labelling app (answers are read as they arrive)."""
    human_min_initial: int = 10
    """With people labelling: answers (ties included) to wait for before the first reward fit."""
    human_timeout_s: float = 3600.0
    """With people labelling: the longest wait for those first answers, in seconds."""
    render_workers: int = 1
    """With people labelling: background processes rendering the clips of asked pairs."""
    min_clip_seconds: float = 1.5
    """With people labelling: the shortest clip shown, in seconds as played. A shorter segment (Hopper's 60
    steps last 0.48 s) is played slowed down until it lasts this long, and the page states the rate
    (Christiano et al. 2017 showed clips of 1-2 s)."""
    clip_context_seconds: float = 1.0
    """With people labelling: most seconds of the segment's own episode shown before and after it (each side) to
    reach ``min_clip_seconds`` at real time; the app marks the scored part on the timeline. What context cannot
    make up is made up by slowing down (0 = slow down only)."""
    reliability: Literal["none", "dawid_skene"] = "none"
    """How much each label counts in the reward model's loss: ``none`` = every label the same; ``dawid_skene`` =
    each annotator's reliability is fitted from the answers (anchored by the app's gold questions and mirrored
    repeats, so ``ui.gold_rate`` or ``ui.repeat_rate`` must be > 0) and weights their labels by its log-odds
    (:mod:`rlhf_robotics.preference.reliability`). People only (``labels.source=human``)."""

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ValueError(f"labels.total must be a positive number of comparisons, got {self.total}")
        if not 0 <= self.initial_fraction <= 1:
            raise ValueError(f"labels.initial_fraction must be in [0, 1], got {self.initial_fraction}")
        if self.rounds < 1:
            raise ValueError(f"labels.rounds must be >= 1, got {self.rounds}")
        if self.source not in ("teacher", "human"):
            raise ValueError(f"labels.source must be 'teacher' or 'human', got {self.source!r}")
        check_range("labels.schedule_timescale", self.schedule_timescale, gt=0)
        check_range("labels.initial_steps", self.initial_steps, ge=1)
        check_range("labels.buffer_steps", self.buffer_steps, ge=1)
        check_range("labels.human_timeout_s", self.human_timeout_s, gt=0)
        check_range("labels.min_clip_seconds", self.min_clip_seconds, gt=0,
                    why="seconds a clip shown to people lasts at least; about 1.5 is readable")
        check_range("labels.clip_context_seconds", self.clip_context_seconds, ge=0,
                    why="seconds of context per side; 0 slows short clips down instead")
        if self.reliability not in ("none", "dawid_skene"):
            raise ValueError(f"labels.reliability={self.reliability!r}: expected none or dawid_skene")
        if self.reliability != "none" and self.source != "human":
            raise ValueError(
                f"labels.reliability={self.reliability!r} with labels.source={self.source!r}: a reliability model "
                "tells people apart by their answers to the app's gold questions and repeats, which a synthetic "
                "teacher never gets; set labels.source=human, or labels.reliability=none"
            )
        if self.human_min_initial < 1 or self.render_workers < 1:
            raise ValueError(
                f"labels.human_min_initial and labels.render_workers must be >= 1, got {self.human_min_initial} "
                f"and {self.render_workers}"
            )


@dataclass
class TeacherSettings:
    """The synthetic teacher: a B-Pref preset plus optional overrides."""

    preset: str = "oracle"
    """One of oracle, mistake, noisy, skip, myopic, equal, random."""
    overrides: dict[str, float] = field(default_factory=dict)
    """Fields of ``TeacherConfig`` to change, e.g. ``{mistake: 0.2}``."""
    judge_on: Literal["reward", "rubric"] = "reward"
    """What the teacher compares: the hidden true reward, or the task's physics rubric (suite tasks) with
    ``rubric_weights`` — a teacher who cares about, say, smoothness more than the objective does."""
    rubric_weights: dict[str, float] = field(default_factory=dict)
    """With ``judge_on: rubric``: criterion name → weight replacing the rubric's own."""

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown teacher preset {self.preset!r}; expected one of {', '.join(PRESETS)}")
        if self.judge_on not in ("reward", "rubric"):
            raise ValueError(f"teacher.judge_on must be 'reward' or 'rubric', got {self.judge_on!r}")
        if self.rubric_weights and self.judge_on != "rubric":
            raise ValueError("teacher.rubric_weights is only used with teacher.judge_on=rubric; set both or neither")


@dataclass
class SelectionSettings:
    """How pairs are chosen."""

    name: str = "uniform"
    """uniform, disagreement, entropy, logit_variance or kcenter_disagreement (B-Pref's: the most disputed half of
    the candidates, then greedy k-center over their observations for a diverse batch)."""
    oversampling: float = 4.0
    """Candidates drawn per query kept (Christiano: 10); unused by uniform."""
    recent_steps: int | None = None
    """QPA (Hu et al. 2024): draw candidate segments only from the most recent this many env steps (over all envs)
    of the buffer, so queries are about the current policy's behaviour; None = the whole buffer."""
    same_episode: float = 0.0
    """Share of candidate pairs whose two segments are cut from one episode (at different starts); 0 = every
    segment drawn on its own, as Christiano et al. and B-Pref do. For tasks that place a goal or object anew each
    episode (Reacher's target, Pusher's object): two segments of different episodes differ mostly in where the
    goal was put, which no policy changes, so a teacher's answer says more about the placement than about the
    behaviour; within one episode the placement is shared and the answer is about what the arm did. Measured
    (PusherGentle-v1, the suite's loop, seeds 0–4, 0.5 against 0): true return +2.4 on average (−0.6 to +8.7 by
    seed), success 0.0 either way, so it stays off by default. ReacherSmooth-v2 (the same, 0.5 against 0, on one
    machine): success 0.58 against 0.46 on average, 5 of 5 seeds passing against 3, so the suite's loop sets it
    there (``conf/env/reacher_smooth.yaml``'s ``benchmark_loop_settings``)."""
    cover_episode_edges: bool = False
    """Cut candidate segments so that an episode's first and last steps are in a clip as often as its middle ones
    (:meth:`~rlhf_robotics.robotics.buffer.TransitionBuffer.start_weights`); False = every window start alike, as
    Christiano et al. and B-Pref cut them, which shows an episode's first steps in few clips when clips are long
    against the episode (Reacher: 60-step clips of 100-step episodes, the start in 1 of 41 windows), so the reward
    model seldom sees what a policy does there (the reach)."""

    def __post_init__(self) -> None:
        check_selector(self.name, with_features=True)
        check_range("selection.same_episode", self.same_episode, ge=0, le=1,
                    why="a share of the candidate pairs; 0 draws every segment on its own")
        check_range("selection.oversampling", self.oversampling, ge=1, why="candidates per query kept")
        if self.recent_steps is not None:
            check_range("selection.recent_steps", self.recent_steps, ge=1,
                        why="env steps of recent behaviour to draw candidates from; null = the whole buffer")


@dataclass
class RewardModelConfig:
    """The reward ensemble and its trainer."""

    ensemble_size: int = 3
    """Members, each on its own bootstrap sample (Christiano: 3)."""
    mlp: MLPConfig = field(default_factory=MLPConfig)
    """Per-step network shape."""
    trainer: RewardTrainerConfig = field(default_factory=RewardTrainerConfig)
    """Optimisation and regularisation (``trainer.epochs`` bounds the first fit)."""
    refit_epochs: int = 8
    """Most epochs of each later round's refit, which warm-starts from the previous weights (8: the overhead
    benchmark's choice; 25 cost twice the training time for no accuracy on HalfCheetah)."""
    input_statistics: str = "per_round"
    """Where the members' input standardisation comes from: ``per_round`` re-fits it before every refit to the
    steps of every labelled segment (the first layer absorbs the change, so the reward is the same function
    until training moves it); ``initial`` fixes it from the initial policy's steps for the whole run."""
    async_training: bool | None = None
    """Refit in the background while the agent trains (Christiano et al. trained the predictor asynchronously).
    None (the default): true under PPO with ``mlp.dropout = 0``, false under SAC/TD3 (no held-out evidence for a
    background refit off-policy, where the whole replay buffer is relabelled at every refit anyway). Deterministic:
    the refit's result is taken over at a set step count (``async_install_steps``), never at whatever moment it
    finishes. It pays off with a core to spare (``refit_worker=process``); in one Python process (``thread``) the
    refit competes with the agent for the GIL. Needs ``mlp.dropout = 0`` (dropout would draw from the generator the
    agent samples from). Issue 13 made it PPO's default: with ``async_relabel`` it was no worse than the
    synchronous refit on held-out seeds (``benchmarks/label_scaling.py``'s ``relabel_refit``, seeds 5-14) and
    brought the loop's wall time to ~1.15x plain PPO's (``benchmarks/overhead.py``)."""
    async_install_steps: int | None = None
    """With ``async_training``: when the background refit's reward takes over within the round. N: at the first
    rollout boundary at least N env steps into the round (all envs together), waiting there for the refit if it has
    not finished, so only those steps learn on the previous reward. None: with ``async_relabel``, 0 (the end of the
    round's first rollout); without it, the round's end (the synchronous loop's data flow, one whole round late)."""
    async_relabel: bool | None = None
    """With ``async_training`` (PPO): the background refit takes over at the *end* of the first rollout that ends at
    least ``async_install_steps`` env steps into the round, after the rollout is collected and before PPO learns
    from it, and that rollout's learned rewards are recomputed with the new reward
    (:func:`~rlhf_robotics.robotics.relabel.relabel_rollout`). No PPO update of the round then learns from the
    previous round's reward: the data flow of the synchronous loop (the same policy collects the same first rollout;
    only the reward normalisation's running statistics saw that rollout's old rewards), while the refit runs beside
    the rollout's collection (on the second core with ``refit_worker=process``). None (the default): true whenever
    the refit runs in the background under PPO. Issue 13: a background refit's reward one round late cost learning
    (``cheap_refit``, ``early_refit`` in ``benchmarks/label_scaling.py``); relabelling won that back."""
    refit_worker: str = "process"
    """Where a background refit runs: ``process`` (a worker process started once per run, so the second core trains
    the reward model while the agent steps) or ``thread`` (in this process, sharing the GIL with the agent); the
    same results bit for bit (the worker hands its random-stream state back)."""

    techniques: TechniquesConfig = field(default_factory=lambda: TechniquesConfig(stop_accuracy=0.97))
    """Issue 13's label-efficiency techniques: ``stop_accuracy`` (B-Pref; 0.97 here, as B-Pref and PEBBLE train
    their reward models, part of the default refit since issue 13), ``crop_steps`` and ``surf`` (SURF), ``rime``
    (RIME), ``rune`` (RUNE), ``reed`` (REED), those off by default; see
    :class:`~rlhf_robotics.preference.techniques.TechniquesConfig`."""

    def __post_init__(self) -> None:
        if self.ensemble_size < 1:
            raise ValueError(f"reward_model.ensemble_size must be >= 1, got {self.ensemble_size}")
        self.techniques.validate("reward_model.techniques")
        if self.techniques.rune.enabled and self.ensemble_size < 2:
            raise ValueError("reward_model.techniques.rune.enabled=true needs reward_model.ensemble_size >= 2 (the "
                             f"bonus is the members' disagreement; got {self.ensemble_size})")
        check_range("reward_model.refit_epochs", self.refit_epochs, ge=1)
        for i, width in enumerate(self.mlp.hidden_sizes):
            check_range(f"reward_model.mlp.hidden_sizes[{i}]", width, ge=1)
        check_range("reward_model.mlp.dropout", self.mlp.dropout, ge=0, lt=1)
        ignored = self.mlp.ignore_inputs
        if any(i < 0 for i in ignored) or len(set(ignored)) != len(ignored):
            raise ValueError(f"reward_model.mlp.ignore_inputs={list(ignored)}: give each step-feature index (from 0: "
                             "the observation's, then the action's) once, none negative")
        if self.mlp.input_clip is not None:
            check_range("reward_model.mlp.input_clip", self.mlp.input_clip, gt=0,
                        why="standard deviations of the fit data; SB3's VecNormalize clips at 10, null turns it off")
        if self.mlp.output not in OUTPUTS:
            raise ValueError(f"reward_model.mlp.output={self.mlp.output!r}: choose one of {', '.join(OUTPUTS)}")
        t = self.trainer
        check_range("reward_model.trainer.lr", t.lr, gt=0)
        check_range("reward_model.trainer.weight_decay", t.weight_decay, ge=0)
        check_range("reward_model.trainer.patience", t.patience, ge=1)
        check_range("reward_model.trainer.margin", t.margin, ge=0)
        check_range("reward_model.trainer.noise", t.noise, ge=0, le=1)
        check_range("reward_model.trainer.label_smoothing", t.label_smoothing, ge=0, lt=1)
        if self.input_statistics not in ("per_round", "initial"):
            raise ValueError(
                f"reward_model.input_statistics={self.input_statistics!r}; expected per_round or initial"
            )
        self.check_refit()

    def resolved(self, algo: str) -> RewardModelConfig:
        """These settings with the refit's ``None`` (automatic) choices made for ``algo``: a background refit that
        relabels the round's first rollout under PPO (unless ``mlp.dropout > 0``), a synchronous one under SAC/TD3.

        Raises:
            ValueError: settings that contradict each other or the algorithm, naming the keys and the fix.
        """
        background = self.async_training
        if background is None:
            background = algo == "ppo" and self.mlp.dropout == 0
        relabel = self.async_relabel
        if relabel is None:
            relabel = background and algo == "ppo"
        if relabel and algo != "ppo":
            raise ValueError(f"reward_model.async_relabel=true relabels PPO's rollout (algo={algo}); off-policy agents "
                             "relabel their whole replay buffer at every refit (off_policy.relabel): set it false")
        install = self.async_install_steps
        if install is None and relabel and background:
            install = 0
        return dataclasses.replace(self, async_training=background, async_relabel=relabel, async_install_steps=install)

    def check_refit(self) -> None:
        """The refit settings' cross-field checks; a ``None`` (automatic) value passes until :meth:`resolved`."""
        if self.refit_worker not in ("thread", "process"):
            raise ValueError(f"reward_model.refit_worker={self.refit_worker!r}: choose process or thread")
        if self.async_install_steps is not None:
            check_range("reward_model.async_install_steps", self.async_install_steps, ge=0)
            if self.async_training is False:
                raise ValueError(f"reward_model.async_install_steps={self.async_install_steps} only applies to a "
                                 "background refit: set reward_model.async_training=true, or leave it null")
        if self.async_relabel and self.async_training is False:
            raise ValueError("reward_model.async_relabel=true relabels the rollout a background refit takes over in: set "
                             "reward_model.async_training=true (or null), or async_relabel=false")
        if self.async_training and self.mlp.dropout > 0:
            raise ValueError(
                f"reward_model.async_training=true needs reward_model.mlp.dropout=0 (got {self.mlp.dropout}); "
                "set one of them differently (async_training=null refits synchronously when dropout is on)"
            )


@dataclass
class PPOConfig:
    """SB3 PPO settings shared by the learned-reward policy and the true-reward baseline."""

    n_steps: int = 512
    """Steps per env per rollout."""
    batch_size: int = 256
    """Minibatch size."""
    n_epochs: int = 10
    """Passes over each rollout."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE λ."""
    clip_range: float = 0.2
    """PPO clip ε."""
    ent_coef: float = 0.0
    """Entropy bonus."""
    log_std_init: float = -1.0
    """Initial log std of the Gaussian policy."""
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden sizes of the policy and value networks."""
    normalize_obs: bool = True
    """``VecNormalize`` observations (statistics saved with checkpoints)."""
    normalize_reward: bool = True
    """``VecNormalize`` returns (applied to whichever reward the policy sees)."""

    def __post_init__(self) -> None:
        check_range("ppo.n_steps", self.n_steps, ge=1)
        check_range("ppo.batch_size", self.batch_size, ge=2, why="SB3 normalises advantages over each minibatch")
        check_range("ppo.n_epochs", self.n_epochs, ge=1)
        check_range("ppo.learning_rate", self.learning_rate, gt=0)
        check_range("ppo.gamma", self.gamma, ge=0, le=1)
        check_range("ppo.gae_lambda", self.gae_lambda, ge=0, le=1)
        check_range("ppo.clip_range", self.clip_range, gt=0)
        check_range("ppo.ent_coef", self.ent_coef, ge=0)
        for i, width in enumerate(self.net_arch):
            check_range(f"ppo.net_arch[{i}]", width, ge=1)


@dataclass
class OffPolicyConfig:
    """SB3 SAC / TD3 settings (``algo=sac|td3``), shared by the learned-reward agent and the true-reward baseline.

    The defaults are SB3's own. After every reward-model update the whole replay buffer is relabelled with the new
    reward (PEBBLE, Lee et al. 2021), so the critic never learns from a reward model that no longer exists.
    """

    learning_rate: float = 3e-4
    """Adam learning rate of actor and critic."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions."""
    learning_starts: int = 100
    """Env steps collected before the first gradient step."""
    batch_size: int = 256
    """Minibatch size."""
    tau: float = 0.005
    """Polyak coefficient of the target networks."""
    gamma: float = 0.99
    """Discount."""
    train_freq: int = 1
    """Env steps (per env) between updates."""
    gradient_steps: int = 1
    """Gradient steps per update."""
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden sizes of the actor and critic networks."""
    action_noise: float = 0.1
    """TD3's Gaussian exploration noise (std, in units of the action range's half-width); SAC ignores it."""
    ent_coef: str = "auto"
    """SAC's entropy coefficient: ``auto`` (learned, starting at 1), ``auto_<init>`` (learned from ``init``; B-Pref:
    ``auto_0.1``) or a fixed number as a string; TD3 ignores it."""
    target_update_interval: int = 1
    """SAC: gradient steps between target-network updates (B-Pref: 2); TD3 uses its policy delay instead."""
    normalize_obs: bool = False
    """``VecNormalize`` observations (the replay buffer keeps the raw ones, which the reward model sees)."""
    relabel: bool = True
    """Relabel every stored transition after each reward-model update (``false``: stored rewards keep the value
    they got when collected; the ablation PEBBLE argues against)."""

    def __post_init__(self) -> None:
        check_range("off_policy.learning_rate", self.learning_rate, gt=0)
        check_range("off_policy.buffer_size", self.buffer_size, ge=1)
        check_range("off_policy.learning_starts", self.learning_starts, ge=0)
        check_range("off_policy.batch_size", self.batch_size, ge=1)
        check_range("off_policy.tau", self.tau, gt=0, le=1)
        check_range("off_policy.gamma", self.gamma, ge=0, le=1)
        check_range("off_policy.train_freq", self.train_freq, ge=1)
        check_range("off_policy.gradient_steps", self.gradient_steps, ge=1)
        check_range("off_policy.action_noise", self.action_noise, ge=0)
        check_range("off_policy.target_update_interval", self.target_update_interval, ge=1)
        init = self.ent_coef.removeprefix("auto").removeprefix("_") if self.ent_coef.startswith("auto") else self.ent_coef
        try:
            valid = init == "" or float(init) > 0
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f"off_policy.ent_coef={self.ent_coef!r}: must be 'auto', 'auto_<initial value > 0>' (e.g. "
                             "auto_0.1) or a number > 0")
        for i, width in enumerate(self.net_arch):
            check_range(f"off_policy.net_arch[{i}]", width, ge=1)


@dataclass
class PretrainConfig:
    """PEBBLE's unsupervised pre-training (Lee et al. 2021): before the first labels the agent explores on a
    state-entropy reward (distance to the ``k``-th nearest stored state over its running std), then its critic is
    reset and (off-policy) the replay buffer relabelled with the first learned reward. Counts toward
    ``total_steps``. SAC/TD3 read the reward from their replay buffer; PPO from its rollouts, each state measured
    against the run's transition buffer (``labels.buffer_steps``), and its value function is the critic reset."""

    steps: int = 0
    """Env steps of pre-training (off-policy: after ``off_policy.learning_starts`` random seed steps; B-Pref: 9,000
    after 1,000). 0 = off: the initial policy's rollouts are collected without learning, as in Christiano et al."""
    k: int = 5
    """Neighbour whose distance is the intrinsic reward (B-Pref: 5)."""
    chunk_size: int = 500
    """Stored states per distance computation (bounds memory at batch_size × chunk_size floats)."""
    reset_critic: bool = True
    """Re-initialise the critic (and its target and optimiser) after pre-training, as PEBBLE does; PPO: its value
    function and the return statistics its reward normalisation divides by."""
    reset_updates: int = 100
    """Gradient steps on the relabelled buffer right after the reset (B-Pref's ``reset_update``; off-policy only)."""

    def __post_init__(self) -> None:
        check_range("pretrain.steps", self.steps, ge=0)
        check_range("pretrain.k", self.k, ge=1)
        check_range("pretrain.chunk_size", self.chunk_size, ge=1)
        check_range("pretrain.reset_updates", self.reset_updates, ge=0)


@dataclass
class ExperimentConfig:
    """One preference-learning run."""

    env: EnvConfig = field(default_factory=EnvConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    algo: Literal["ppo", "sac", "td3"] = "ppo"
    """The SB3 algorithm of the policy and of the true-reward baseline: ``ppo`` (settings in ``ppo``), ``sac`` or
    ``td3`` (settings in ``off_policy``; the replay buffer is relabelled after every reward-model update)."""
    off_policy: OffPolicyConfig = field(default_factory=OffPolicyConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    total_steps: int = 200_000
    """Policy env steps (the same for the true-reward baseline)."""
    seed: int = 0
    """Seeds envs, policy, reward model, selection and teacher (each from its own stream)."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    run_dir: str = "runs/default"
    """Where everything is written."""
    baseline: bool = True
    """Also train PPO on the true reward for ``total_steps`` and report it."""
    eval_episodes: int = 5
    """Episodes for each final evaluation."""
    video: bool = True
    """Write an mp4 of the final policy."""
    video_dir: str = "videos"
    """Folder for the policy video."""
    torch_threads: int = 1
    """Torch CPU threads (more does not help these small nets)."""

    @property
    def steps_before_labels(self) -> int:
        """Env steps before the first labels: PEBBLE's state-entropy pre-training and, off-policy, its random seed
        steps (``off_policy.learning_starts``); 0 without pre-training."""
        if not self.pretrain.steps:
            return 0
        return self.pretrain.steps + (0 if self.algo == "ppo" else self.off_policy.learning_starts)

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        check_range("seed", self.seed, ge=0, le=2**32 - 1, why="numpy seeds")
        check_range("eval_episodes", self.eval_episodes, ge=1)
        check_range("torch_threads", self.torch_threads, ge=1)
        if self.algo not in ("ppo", "sac", "td3"):
            raise ValueError(f"algo={self.algo!r}: expected one of ppo, sac, td3")
        if self.pretrain.steps > 0 and self.steps_before_labels >= self.total_steps:
            seed = "" if self.algo == "ppo" else " + off_policy.learning_starts"
            raise ValueError(
                f"pretrain.steps{seed} = {self.steps_before_labels} leaves no steps of total_steps={self.total_steps} "
                "for learning from labels; raise total_steps or lower pretrain.steps")
        self.reward_model = self.reward_model.resolved(self.algo)
        rollout = self.ppo.n_steps * self.env.n_envs
        check_range("ppo.n_steps", self.ppo.n_steps, ge=2 / self.env.n_envs,
                    why=f"a rollout of ppo.n_steps × env.n_envs = {rollout} steps needs at least 2")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")


def check_reliability_anchors(reliability: str, gold_rate: float, repeat_rate: float) -> None:
    """Refuse a reliability model that would have nothing to anchor it: with no gold questions and no repeats,
    one answer per query says nothing about who is right, and every annotator would keep the prior.

    Raises:
        ValueError: naming ``labels.reliability``, the two rates and the fix.
    """
    if reliability != "none" and gold_rate <= 0 and repeat_rate <= 0:
        raise ValueError(
            f"labels.reliability={reliability!r} with ui.gold_rate={gold_rate} and ui.repeat_rate={repeat_rate}: "
            "the reliability model is anchored by gold questions and mirrored repeats, and none are served; set "
            "ui.gold_rate (e.g. 0.1) or ui.repeat_rate (e.g. 0.05) above 0, or labels.reliability=none"
        )


def load_config(run_dir: str | Path) -> ExperimentConfig:
    """The :class:`ExperimentConfig` a run was started with (its ``config.json``), validated like the CLI's.

    A setting the file lacks was added to the package after the run started; it takes the value the run ran with,
    which is today's default except where :data:`SETTINGS_BEFORE_THEY_EXISTED` says otherwise (a resumed run goes on
    as it began)."""
    raw = json.loads((Path(run_dir) / "config.json").read_text())
    for (section, name), value in SETTINGS_BEFORE_THEY_EXISTED.items():
        if isinstance(raw.get(section), dict) and name not in raw[section]:
            raw[section][name] = value
    return from_mapping(ExperimentConfig, raw)


SETTINGS_BEFORE_THEY_EXISTED: dict[tuple[str, str], Any] = {
    # issue 13 added reward_model.techniques with B-Pref's stop at 97 % training accuracy on by default; a run
    # started before then trained every member its full epochs
    ("reward_model", "techniques"): {"stop_accuracy": None},
}
"""Settings whose default for a new run differs from what a run saved before the setting existed did: ``(section,
field)`` to the value such a run ran with (:func:`load_config`)."""
