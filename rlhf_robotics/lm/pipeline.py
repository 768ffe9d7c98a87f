"""The whole LM track as stages over one run directory, each reading its parent's checkpoint.

=============  =====================  ======================================  ===========================
stage          reads                  writes (under ``run_dir``)              trains
=============  =====================  ======================================  ===========================
``pretrain``   —                      ``pretrain/``                           GPT from scratch
``sft``        ``pretrain/``          ``sft/``                                on demonstrations
``reward``     ``sft/``               ``reward/``, ``preferences.sqlite``     scalar-head ensemble
``ppo``        ``sft/``, ``reward/``  ``ppo/``                                PPO + KL on the RM
``dpo``        ``sft/``, the store    ``dpo/``                                DPO on the comparisons
``grpo``       ``sft/``               ``grpo/``                               GRPO on the verifier
``rloo``       ``sft/``               ``rloo/``                               RLOO on the verifier
``best_of_n``  ``sft/``, ``reward/``  ``best_of_n/``                          nothing (reranks samples)
=============  =====================  ======================================  ===========================

Every stage evaluates its policy on the held-out prompts and writes ``eval.json`` beside its checkpoint, KL from
the SFT model included (pretrain's is added when SFT is done; best-of-n's is analytic);
:func:`collect_table` reads them back into the table the CLI prints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlhf_robotics.lm.best_of_n import best_of_n_decoder, best_of_n_kl
from rlhf_robotics.lm.checkpoint import load_lm, load_reward, save_checkpoint, to_jsonable
from rlhf_robotics.lm.dpo import DPOConfig, train_dpo
from rlhf_robotics.lm.evaluate import (
    Decoder,
    EvalResult,
    evaluate,
    greedy_decoder,
    kl_from_reference,
    sampling_decoder,
)
from rlhf_robotics.lm.grpo import GRPOConfig, train_grpo
from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.ppo import PPOConfig, train_ppo
from rlhf_robotics.lm.pretrain import PretrainConfig, pretrain
from rlhf_robotics.lm.reward import RewardConfig, train_reward_model
from rlhf_robotics.lm.sft import SFTConfig, sft
from rlhf_robotics.lm.tasks import TaskMix, check_tasks
from rlhf_robotics.preference.rundir import RunPaths

STAGES: tuple[str, ...] = ("pretrain", "sft", "reward", "ppo", "dpo", "grpo", "rloo", "best_of_n")


@dataclass
class EvalConfig:
    """How every stage is scored."""

    tasks: tuple[str, ...] = ("arithmetic",)
    """Tasks of the held-out set."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    n_eval: int = 300
    """Held-out prompts per task."""
    max_new_tokens: int = 4
    """Most response tokens, EOS included."""
    best_of_n: int = 8
    """n of the best-of-n baseline."""
    seed: int = 7
    """Seed of the sampled responses (pass@1 and KL)."""

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if self.n_eval < 1:
            raise ValueError(f"n_eval must be >= 1, got {self.n_eval}")


@dataclass
class LMConfig:
    """Every stage's settings and where the run lives."""

    run_dir: str = "runs/lm"
    """Directory of checkpoints, the preference store and the results."""
    stages: tuple[str, ...] = STAGES
    """Stages :func:`run_pipeline` runs, in order."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """Stage 1."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Stage 2."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Stage 3."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO with a KL penalty on the reward model."""
    dpo: DPOConfig = field(default_factory=DPOConfig)
    """DPO on the stored comparisons."""
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    """GRPO on verifiable rewards."""
    rloo: GRPOConfig = field(default_factory=lambda: GRPOConfig(estimator="rloo"))
    """RLOO on verifiable rewards."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Scoring of every stage."""

    def __post_init__(self) -> None:
        self.stages = tuple(self.stages)
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stages {unknown}; expected some of {', '.join(STAGES)}")


def _hint(stage: str) -> str:
    return f"run `rlhf-robotics lm {stage}` (or `rlhf-robotics lm pipeline`) with the same run_dir first"


def stage_dir(config: LMConfig, stage: str) -> Path:
    return Path(config.run_dir) / stage


def _load_parent(config: LMConfig, stage: str) -> CausalLM:
    return load_lm(stage_dir(config, stage), _hint(stage))[0]


def _score(config: LMConfig, stage: str, decode: Decoder | None, policy: CausalLM | None, sft_model: CausalLM | None,
           kl: float | None = None, sample_from: CausalLM | None = None) -> EvalResult:
    mix = TaskMix(config.eval.tasks, n_eval=config.eval.n_eval, difficulty=config.eval.difficulty)
    gen = torch.Generator().manual_seed(config.eval.seed)
    sampler = policy if policy is not None else sample_from
    sample = sampling_decoder(sampler, config.eval.max_new_tokens, gen) if sampler is not None else None
    if decode is None:
        if policy is None:
            raise ValueError(f"stage {stage!r} produced neither a policy nor a decoder to evaluate")
        decode = greedy_decoder(policy, config.eval.max_new_tokens)
    result = evaluate(stage, decode, mix, sample)
    if kl is not None:
        result.kl_from_sft = kl
    elif policy is not None and sft_model is not None:
        problems = [p for ps in mix.eval.values() for p in ps]
        result.kl_from_sft = kl_from_reference(policy, sft_model, problems, config.eval.max_new_tokens, gen)
    return result


def _write_eval(config: LMConfig, stage: str, result: EvalResult, seconds: float, metrics: Any) -> dict[str, Any]:
    row = {
        "stage": stage,
        "exact_match": result.exact_match,
        "exact_match_sampled": result.exact_match_sampled,
        "gold": result.gold,
        "gold_sampled": result.gold_sampled,
        "kl_from_sft": None if math.isnan(result.kl_from_sft) else result.kl_from_sft,
        "seconds": seconds,
        "tasks": {k: dataclasses.asdict(v) for k, v in result.tasks.items()},
        "examples": result.examples,
    }
    out = stage_dir(config, stage)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    if metrics is not None:
        (out / "metrics.json").write_text(json.dumps(to_jsonable(metrics), indent=2) + "\n", encoding="utf-8")
    return row


@dataclass
class StageOutput:
    """What a stage hands to the evaluation."""

    policy: CausalLM | None
    """The trained policy (None for stages without one)."""
    metrics: Any
    """The stage's metrics dataclass."""
    decode: Decoder | None = None
    """A decoder other than the policy's greedy one (best-of-n)."""
    kl: float | None = None
    """A known KL from SFT (None: estimate it from samples)."""
    sample_from: CausalLM | None = None
    """For a stage without a policy: whose temperature-1 samples fill the sampled columns (best-of-n: SFT's)."""


def _pretrain(config: LMConfig, out: Path) -> StageOutput:
    policy, metrics = pretrain(config.pretrain)
    save_checkpoint(out, policy, "lm", policy.config, "pretrain", config.pretrain, metrics)
    return StageOutput(policy, metrics, kl=math.nan)


def _sft(config: LMConfig, out: Path) -> StageOutput:
    policy, metrics = sft(_load_parent(config, "pretrain"), config.sft)
    save_checkpoint(out, policy, "lm", policy.config, "sft", config.sft, metrics, parent="pretrain")
    return StageOutput(policy, metrics, kl=0.0)


def _reward(config: LMConfig, out: Path) -> StageOutput:
    sft_model = _load_parent(config, "sft")
    ensemble, metrics = train_reward_model(sft_model, config.reward, config.run_dir)
    save_checkpoint(out, ensemble, "reward", sft_model.config, "reward", config.reward, metrics, parent="sft",
                    extra={"ensemble_size": ensemble.size})
    return StageOutput(None, metrics)


def _ppo(config: LMConfig, out: Path) -> StageOutput:
    sft_model = _load_parent(config, "sft")
    rm = load_reward(stage_dir(config, "reward"), _hint("reward"))[0]
    policy, metrics = train_ppo(sft_model, sft_model, rm, config.ppo)
    save_checkpoint(out, policy, "lm", policy.config, "ppo", config.ppo, metrics, parent="sft")
    return StageOutput(policy, metrics)


def _dpo(config: LMConfig, out: Path) -> StageOutput:
    sft_model = _load_parent(config, "sft")
    policy, metrics = train_dpo(sft_model, sft_model, RunPaths(Path(config.run_dir)).store, config.dpo)
    save_checkpoint(out, policy, "lm", policy.config, "dpo", config.dpo, metrics, parent="sft")
    return StageOutput(policy, metrics)


def _group_rl(name: str) -> Callable[[LMConfig, Path], StageOutput]:
    def run(config: LMConfig, out: Path) -> StageOutput:
        sft_model = _load_parent(config, "sft")
        cfg = getattr(config, name)
        policy, metrics = train_grpo(sft_model, sft_model, cfg)
        save_checkpoint(out, policy, "lm", policy.config, name, cfg, metrics, parent="sft")
        return StageOutput(policy, metrics)

    return run


def _best_of_n(config: LMConfig, out: Path) -> StageOutput:
    sft_model = _load_parent(config, "sft")
    rm = load_reward(stage_dir(config, "reward"), _hint("reward"))[0]
    gen = torch.Generator().manual_seed(config.eval.seed + 1)
    decode = best_of_n_decoder(sft_model, rm, config.eval.best_of_n, config.eval.max_new_tokens, gen)
    return StageOutput(None, None, decode=decode, kl=best_of_n_kl(config.eval.best_of_n), sample_from=sft_model)


STAGE_RUNNERS: dict[str, Callable[[LMConfig, Path], StageOutput]] = {
    "pretrain": _pretrain,
    "sft": _sft,
    "reward": _reward,
    "ppo": _ppo,
    "dpo": _dpo,
    "grpo": _group_rl("grpo"),
    "rloo": _group_rl("rloo"),
    "best_of_n": _best_of_n,
}
"""Stage name → the function that trains it and saves its checkpoint under ``run_dir/<stage>``."""


def run_stage(config: LMConfig, stage: str) -> dict[str, Any]:
    """Run one stage: load its parents' checkpoints, train, save, evaluate. Returns the table row.

    Raises:
        FileNotFoundError: a parent checkpoint is missing (the message names the command that writes it).
    """
    if stage not in STAGE_RUNNERS:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    start = time.perf_counter()
    out = stage_dir(config, stage)
    result = STAGE_RUNNERS[stage](config, out)
    seconds = time.perf_counter() - start
    if stage == "reward":  # no policy to score; its metrics are the row
        (out / "metrics.json").write_text(json.dumps(to_jsonable(result.metrics), indent=2) + "\n", encoding="utf-8")
        return {"stage": stage, "seconds": seconds, "metrics": result.metrics}
    sft_model = None if stage in ("pretrain", "sft") else _load_parent(config, "sft")
    scores = _score(config, stage, result.decode, result.policy, sft_model, result.kl, result.sample_from)
    row = _write_eval(config, stage, scores, seconds, result.metrics)
    if stage == "sft" and result.policy is not None:
        _backfill_pretrain_kl(config, result.policy)
    return row


def _backfill_pretrain_kl(config: LMConfig, sft_model: CausalLM) -> None:
    """Pretraining is scored before an SFT model exists; once it does, its KL from SFT joins pretrain's row."""
    path = stage_dir(config, "pretrain") / "eval.json"
    if not path.is_file():
        return
    row = json.loads(path.read_text(encoding="utf-8"))
    mix = TaskMix(config.eval.tasks, n_eval=config.eval.n_eval, difficulty=config.eval.difficulty)
    problems = [p for ps in mix.eval.values() for p in ps]
    gen = torch.Generator().manual_seed(config.eval.seed)
    row["kl_from_sft"] = kl_from_reference(_load_parent(config, "pretrain"), sft_model, problems,
                                           config.eval.max_new_tokens, gen)
    path.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")


def run_pipeline(config: LMConfig, on_stage: Callable[[str, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run ``config.stages`` in order; ``on_stage(stage, row)`` is called after each (for logging)."""
    rows = []
    for stage in config.stages:
        row = run_stage(config, stage)
        rows.append(row)
        if on_stage is not None:
            on_stage(stage, row)
    return rows


def collect_table(run_dir: str | Path) -> list[dict[str, Any]]:
    """The ``eval.json`` rows of every stage found under ``run_dir``, in stage order."""
    rows = []
    for stage in STAGES:
        path = Path(run_dir) / stage / "eval.json"
        if path.is_file():
            rows.append(json.loads(path.read_text(encoding="utf-8")))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table: stage, exact match and gold (greedy; sampled at temperature 1), KL from SFT,
    seconds. The best-of-n row's sampled columns are its base policy's (SFT) samples at the same temperature."""
    head = (f"{'stage':<10} {'exact_match':>11} {'em_sampled':>10} {'gold':>6} {'gold_smp':>8} {'kl_sft':>7} "
            f"{'seconds':>8}")
    lines = [head, "-" * len(head)]

    def num(x: Any, fmt: str) -> str:
        return format(x, fmt) if isinstance(x, int | float) and not (isinstance(x, float) and math.isnan(x)) else "-"

    for r in rows:
        lines.append(
            f"{r['stage']:<10} {num(100 * r['exact_match'], '10.1f')}% {num(100 * r['exact_match_sampled'], '9.1f')}% "
            f"{num(r['gold'], '6.3f')} {num(r.get('gold_sampled'), '8.3f')} {num(r.get('kl_from_sft'), '7.3f')} "
            f"{num(r['seconds'], '8.1f')}"
        )
    return "\n".join(lines)
