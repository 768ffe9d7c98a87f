"""Stage 3 — the reward model: comparisons of SFT samples in the shared store, labelled by a shared teacher
over the hidden gold score, fitted with the shared Bradley–Terry trainer.

Flow: sample ``samples_per_prompt`` responses per prompt from the SFT model and pair the first two different texts
(issue 14: two identical samples are a tie that teaches nothing; no gold is looked at to choose) → write each response as a
:class:`~rlhf_robotics.preference.items.TextItem` (the store's item table, which the labelling app reads too)
and one :class:`~rlhf_robotics.preference.Query` per pair into the run's
:class:`~rlhf_robotics.preference.PreferenceStore` → a :class:`~rlhf_robotics.preference.Teacher` judges each pair from the gold scores (ties and skips
included) → :func:`~rlhf_robotics.preference.aggregate_targets` → a
:class:`~rlhf_robotics.preference.PairDataset` of token ids → :func:`~rlhf_robotics.preference.train_ensemble`
on :class:`ScalarHeadModel` members initialised from the SFT weights (InstructGPT's recipe).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlhf_robotics.lm.model import CausalLM
from rlhf_robotics.lm.sampling import TOKENIZER, encode_completions, encode_prompts, generate
from rlhf_robotics.lm.tasks import Problem, TaskMix, check_tasks
from rlhf_robotics.lm.tokenizer import Tokenizer
from rlhf_robotics.preference import (
    Judgment,
    PairDataset,
    PreferenceStore,
    Query,
    RewardEnsemble,
    RewardTrainerConfig,
    RewardTrainerMetrics,
    Teacher,
    TeacherConfig,
    select,
    train_ensemble,
)
from rlhf_robotics.preference.items import TextItem, text_comparisons
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.selection import candidate_count, check_selector
from rlhf_robotics.preference.teachers import preset
from rlhf_robotics.preference.techniques import TechniquesConfig
from rlhf_robotics.typed_config import from_mapping


@dataclass
class RewardConfig:
    """Hyperparameters of the reward-model stage."""

    tasks: tuple[str, ...] = ("arithmetic",)
    """Tasks whose prompts are compared."""
    difficulty: dict[str, int] = field(default_factory=dict)
    """Task → difficulty (:data:`~rlhf_robotics.lm.tasks.DIFFICULTY`); unnamed tasks take their default."""
    n_pairs: int = 1500
    """Comparisons to collect in all (one prompt, two SFT samples each), split evenly over the rounds."""
    rounds: int = 1
    """Collect → train rounds; the first is uniform, later ones use ``selector`` on the current ensemble."""
    selector: str = "disagreement"
    """Query selection after the first round: uniform, disagreement, entropy or logit_variance."""
    oversampling: float = 4.0
    """Candidates per kept pair for a non-uniform selector (Christiano et al. 2017 used 10)."""
    temperature: float = 1.0
    """Sampling temperature of the SFT model."""
    samples_per_prompt: int = 4
    """Responses sampled per prompt; the pair is the first two *different* texts among them (issue 14: two
    identical samples are a tie that teaches nothing). 2 pairs two independent samples, identical or not."""
    max_new_tokens: int = 4
    """Most response tokens, EOS included."""
    teacher: str = "equal"
    """Teacher preset (oracle, mistake, noisy, skip, myopic, equal, random)."""
    teacher_overrides: dict[str, float] = field(default_factory=lambda: {"equal_threshold": 0.02, "skip_threshold": 0.3})
    """Fields of the preset to replace (e.g. ``mistake: 0.1``); thresholds are in typical gold scores."""
    ensemble_size: int = 1
    """Reward-model members (each from the SFT weights with its own head and bootstrap sample)."""
    trainer: RewardTrainerConfig = field(
        default_factory=lambda: RewardTrainerConfig(epochs=8, batch_size=32, lr=3e-4, weight_decay=0.0,
                                                    regularisation="early_stopping", patience=3, noise=0.0)
    )
    """The shared Bradley–Terry trainer's settings."""
    techniques: TechniquesConfig = field(default_factory=TechniquesConfig)
    """Issue 13's label-efficiency techniques in the shared trainer, each off by default. For text comparisons:
    ``stop_accuracy`` (B-Pref) and ``rime`` (RIME, robust to wrong labels); the rest are refused
    (:func:`check_lm_techniques` says why)."""
    n_eval_pairs: int = 200
    """Fresh pairs on held-out prompts for accuracy against gold."""
    seed: int = 2
    """Seed of the prompts, samples, teacher and trainer."""

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        check_tasks(self.tasks, self.difficulty)
        if isinstance(self.trainer, dict):
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in self.trainer.items()}
            self.trainer = RewardTrainerConfig(**fields)
        if isinstance(self.techniques, dict):  # e.g. RewardConfig(techniques={"rime": {"enabled": True}})
            self.techniques = from_mapping(TechniquesConfig, self.techniques, "reward.techniques")
        if self.n_pairs < 1:
            raise ValueError(f"n_pairs must be >= 1, got {self.n_pairs}; the reward model needs comparisons")
        if self.ensemble_size < 1:
            raise ValueError(f"ensemble_size must be >= 1, got {self.ensemble_size}")
        if self.samples_per_prompt < 2:
            raise ValueError(f"reward.samples_per_prompt={self.samples_per_prompt}: a pair needs >= 2 samples per prompt")
        if self.rounds < 1 or self.rounds > self.n_pairs:
            raise ValueError(f"rounds must be in [1, n_pairs={self.n_pairs}], got {self.rounds}")
        check_selector(self.selector)
        self.teacher_config()  # validate early
        self.techniques.validate("reward.techniques")
        check_lm_techniques(self.techniques)

    def teacher_config(self) -> TeacherConfig:
        return preset(self.teacher, **self.teacher_overrides)


def check_lm_techniques(tech: TechniquesConfig, prefix: str = "reward.techniques") -> None:
    """Refuse the techniques that do not apply to a reward model over token sequences, before any work.

    Crops and REED are defined on step sequences ``(N, T, D)`` (a window of steps; the next step's latent), which a
    prompt + response of token ids is not. SURF is refused too: the shared trainer pseudo-labels *random* pairs drawn
    from a pool of items, which for text would compare responses to different prompts — not the same-prompt pairs
    the teacher and the labelled data compare. RUNE's bonus is added by the robotics reward wrapper; no LM stage
    reads it.

    Raises:
        ValueError: naming the key, the value and what is allowed.
    """
    refused = {
        "crop_steps": (tech.crop_steps, tech.crop_steps != 0, 0,
                       "temporal crops cut a window of steps out of segments (N, T, D); a prompt + response of token ids "
                       "has no steps to crop"),
        "reed.enabled": (tech.reed.enabled, tech.reed.enabled, "false",
                         "REED pre-trains an encoder to predict the next step's latent from (N, T, D) transitions; "
                         "a token-sequence reward model has none"),
        "surf.enabled": (tech.surf.enabled, tech.surf.enabled, "false",
                         "SURF pseudo-labels random pairs drawn from a pool of items, which for text would pair "
                         "responses to different prompts, unlike every labelled comparison"),
        "rune.enabled": (tech.rune.enabled, tech.rune.enabled, "false",
                         "RUNE's bonus is added by the robotics reward wrapper; no LM stage reads it"),
    }
    for key, (value, bad, allowed, why) in refused.items():
        if bad:
            shown = str(value).lower() if isinstance(value, bool) else value
            raise ValueError(f"{prefix}.{key}={shown}: allowed only {allowed} for the LM reward model ({why}); "
                             f"{prefix}.stop_accuracy and {prefix}.rime.* apply to text comparisons")


@dataclass
class RewardMetrics:
    """What the reward-model stage did; logged under ``reward_model/``."""

    trainer: RewardTrainerMetrics
    """The shared trainer's metrics."""
    labels: dict[str, int]
    """Count of each teacher answer (first, second, tie, skip …)."""
    accuracy_vs_gold: float
    """Share of held-out decisive pairs (gold differs) the reward model orders like gold."""
    accuracy_by_task: dict[str, float]
    """The same per task."""
    eval_pairs_by_task: dict[str, int]
    """Held-out decisive pairs per task."""
    training_ties: int
    """Training pairs whose two responses have equal gold (a tie for every teacher)."""
    teacher_ceiling: float
    """Share of the training pairs' decisive teacher labels that agree with gold (the noise ceiling)."""
    eval_pairs: int
    """Held-out pairs with different gold scores."""
    seconds: float
    """Wall time of the stage."""


@dataclass
class Comparisons:
    """Sampled pairs with their texts and gold scores."""

    problems: list[Problem]
    responses: list[tuple[str, str]]
    gold: np.ndarray
    """``(P, 2)`` gold scores."""


def sample_pairs(policy: CausalLM, problems: list[Problem], mix: TaskMix, max_new_tokens: int, temperature: float,
                 generator: torch.Generator, samples_per_prompt: int = 2) -> Comparisons:
    """Two responses per problem and their gold scores: the first two different texts among
    ``samples_per_prompt`` samples (the first two samples when all are equal). No gold is looked at."""
    k = samples_per_prompt
    many = [p for p in problems for _ in range(k)]
    ids = encode_prompts(many, policy.config.block_size, max_new_tokens, policy.tokenizer)
    texts = generate(policy, ids, max_new_tokens, temperature=temperature, generator=generator).texts
    responses = []
    for i in range(len(problems)):
        group = texts[k * i : k * (i + 1)]
        second = next((t for t in group[1:] if t != group[0]), group[1])
        responses.append((group[0], second))
    gold = np.array([[mix.gold(p, a), mix.gold(p, b)] for p, (a, b) in zip(problems, responses, strict=True)])
    return Comparisons(problems, responses, gold.reshape(-1, 2))


def rubric_comparison(mix: TaskMix, problem: Problem, first: str, second: str) -> dict[str, str]:
    """Per-criterion answers (``first``/``second``/``tie``) from the task's rubric, as a person would tick them."""
    rubric = mix.task(problem).rubric
    t1, t2 = rubric.terms((problem, first)), rubric.terms((problem, second))
    return {k: "first" if t1[k] > t2[k] else "second" if t1[k] < t2[k] else "tie" for k in rubric.names}


@torch.no_grad()
def member_logits(ensemble: RewardEnsemble, comps: Comparisons, block_size: int,
                  tokenizer: Tokenizer = TOKENIZER) -> np.ndarray:
    """``(E, P)`` each member's logit of P(first ≻ second) for every pair (what the selectors score)."""
    prompts = [p.prompt for p in comps.problems for _ in range(2)]
    items, _ = encode_completions(prompts, [r for pair in comps.responses for r in pair], block_size, tokenizer)
    scores = ensemble.normalised_outputs(items)  # (E, 2P)
    return (scores[:, 0::2] - scores[:, 1::2]).numpy()


def collect_comparisons(
    policy: CausalLM,
    config: RewardConfig,
    store: PreferenceStore,
    rng: np.random.Generator,
    n_pairs: int | None = None,
    ensemble: RewardEnsemble | None = None,
) -> tuple[list[int], dict[str, int], float, int]:
    """Sample pairs, record their texts (items) and the pairs (queries) in ``store``, label them with the teacher.

    With an ``ensemble`` and a selector other than ``uniform``, ``oversampling`` × ``n_pairs`` candidates are
    sampled and the shared :func:`~rlhf_robotics.preference.select` keeps the most informative ``n_pairs``.

    Returns:
        The new query ids, the label counts, the teacher's agreement with gold on decisive pairs and the number
        of pairs with equal gold.
    """
    n_pairs = config.n_pairs if n_pairs is None else n_pairs
    selector = config.selector if ensemble is not None else "uniform"
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    n_candidates = candidate_count(n_pairs, config.oversampling, selector)
    comps = sample_pairs(policy, mix.sample(rng, n_candidates), mix, config.max_new_tokens, config.temperature, gen,
                         config.samples_per_prompt)
    sel_scores = np.zeros(n_candidates)
    if ensemble is not None and selector != "uniform":
        chosen, sel_scores = select(member_logits(ensemble, comps, policy.config.block_size, policy.tokenizer), n_pairs,
                                    selector, rng)
        comps = Comparisons([comps.problems[i] for i in chosen], [comps.responses[i] for i in chosen], comps.gold[chosen])
        sel_scores = sel_scores[chosen]
    start = store.count_queries()
    items, queries = [], []
    for k, (p, (a, b)) in enumerate(zip(comps.problems, comps.responses, strict=True)):
        ids = (f"lm-{start + k}-a", f"lm-{start + k}-b")
        items += [TextItem(item_id, p.prompt, text, {"task": p.task, "gold": float(gold)})
                  for item_id, text, gold in zip(ids, (a, b), comps.gold[k], strict=True)]
        queries.append(Query(ids[0], ids[1], selector=selector, score=float(sel_scores[k]), meta={
            "track": "lm", "task": p.task, "gold": [float(comps.gold[k, 0]), float(comps.gold[k, 1])]}))
    store.add_items(items)  # before the queries, so the labelling app never sees a pair without its texts
    qids = store.add_queries(queries)
    teacher = Teacher(config.teacher_config(), np.random.default_rng(int(rng.integers(2**31))), config.teacher)
    labels = teacher.judge(comps.gold[:, 0], comps.gold[:, 1])
    rubric_answers = [rubric_comparison(mix, p, a, b) for p, (a, b) in zip(comps.problems, comps.responses, strict=True)]
    store.add_judgments([Judgment(q, lab, teacher.annotator, rubric=r)
                         for q, lab, r in zip(qids, labels, rubric_answers, strict=True)])
    counts: dict[str, int] = {lab: labels.count(lab) for lab in sorted(set(labels))}
    decisive = [(lab, g) for lab, g in zip(labels, comps.gold, strict=True) if lab in ("first", "second") and g[0] != g[1]]
    agree = [(lab == "first") == (g[0] > g[1]) for lab, g in decisive]
    ties = int((comps.gold[:, 0] == comps.gold[:, 1]).sum())
    return qids, counts, float(np.mean(agree)) if agree else math.nan, ties


def pair_dataset(store: PreferenceStore, block_size: int, tokenizer: Tokenizer = TOKENIZER) -> PairDataset:
    """Every query of the store with a training target, as token ids (items ``(N, L)``, two per query)."""
    prompts: list[str] = []
    responses: list[str] = []
    first: list[int] = []
    second: list[int] = []
    target: list[float] = []
    for _, a, b, t in text_comparisons(store):
        first.append(len(responses))
        second.append(len(responses) + 1)
        prompts += [a.prompt, b.prompt]
        responses += [a.response, b.response]
        target.append(t)
    if not target:
        raise ValueError(f"the store {store.path} holds no labelled LM comparisons; collect and label some first")
    items, _ = encode_completions(prompts, responses, block_size, tokenizer)
    return PairDataset(items, torch.tensor(first), torch.tensor(second), torch.tensor(target, dtype=torch.float32))


@torch.no_grad()
def accuracy_vs_gold(ensemble: RewardEnsemble, comps: Comparisons, block_size: int,
                     tokenizer: Tokenizer = TOKENIZER) -> tuple[float, int]:
    """Share of pairs with different gold whose reward-model order matches gold, and how many there were."""
    decisive = [k for k in range(len(comps.problems)) if comps.gold[k, 0] != comps.gold[k, 1]]
    if not decisive:
        return math.nan, 0
    prompts = [comps.problems[k].prompt for k in decisive for _ in range(2)]
    responses = [r for k in decisive for r in comps.responses[k]]
    items, _ = encode_completions(prompts, responses, block_size, tokenizer)
    scores = ensemble.reward(items).view(-1, 2)
    right = (scores[:, 0] > scores[:, 1]) == torch.as_tensor(comps.gold[decisive, 0] > comps.gold[decisive, 1])
    return float(right.float().mean()), len(decisive)


def accuracy_by_task(ensemble: RewardEnsemble, comps: Comparisons, block_size: int,
                     tokenizer: Tokenizer = TOKENIZER) -> dict[str, tuple[float, int]]:
    """:func:`accuracy_vs_gold` per task: task → (accuracy, decisive pairs)."""
    out = {}
    for task in dict.fromkeys(p.task for p in comps.problems):
        idx = [k for k, p in enumerate(comps.problems) if p.task == task]
        sub = Comparisons([comps.problems[k] for k in idx], [comps.responses[k] for k in idx], comps.gold[idx])
        out[task] = accuracy_vs_gold(ensemble, sub, block_size, tokenizer)
    return out


def build_reward_ensemble(sft_model: CausalLM, size: int, seed: int) -> RewardEnsemble:
    """``size`` scalar-head members, each the SFT transformer with a fresh head (seed ``seed + i``)."""
    return RewardEnsemble([sft_model.scalar_head(head_seed=seed + i) for i in range(size)])


def train_reward_model(sft_model: CausalLM, config: RewardConfig, run_dir: str | Path) -> tuple[RewardEnsemble, RewardMetrics]:
    """Collect and label comparisons into the run's store (``preferences.sqlite``) and fit a reward ensemble."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    rng = np.random.default_rng(config.seed)
    ensemble = build_reward_ensemble(sft_model, config.ensemble_size, config.seed)
    counts: dict[str, int] = {}
    agreement: list[float] = []
    training_ties = 0
    with PreferenceStore(RunPaths(run_dir).store) as store:
        for r in range(config.rounds):
            n = config.n_pairs // config.rounds + (1 if r < config.n_pairs % config.rounds else 0)
            _, new_counts, ceiling, ties = collect_comparisons(sft_model, config, store, rng, n,
                                                               ensemble if r > 0 else None)
            training_ties += ties
            for k, v in new_counts.items():
                counts[k] = counts.get(k, 0) + v
            agreement.append(ceiling)
            data = pair_dataset(store, sft_model.config.block_size, sft_model.tokenizer)
            trainer_metrics = train_ensemble(ensemble, data, config.trainer, rng, techniques=config.techniques)
            ensemble.fit_normalisation(data.items)
    ceiling = float(np.nanmean(agreement)) if not all(math.isnan(a) for a in agreement) else math.nan
    mix = TaskMix(config.tasks, difficulty=config.difficulty)
    held_out = [p for name in mix.eval for p in mix.eval[name]][: config.n_eval_pairs]
    gen = torch.Generator().manual_seed(config.seed + 1)
    comps = sample_pairs(sft_model, held_out, mix, config.max_new_tokens, config.temperature, gen,
                         config.samples_per_prompt)
    acc, n = accuracy_vs_gold(ensemble, comps, sft_model.config.block_size, sft_model.tokenizer)
    by_task = accuracy_by_task(ensemble, comps, sft_model.config.block_size, sft_model.tokenizer)
    return ensemble.eval(), RewardMetrics(
        trainer_metrics, counts, acc, {k: a for k, (a, _) in by_task.items()}, {k: m for k, (_, m) in by_task.items()},
        training_ties, ceiling, n, time.perf_counter() - start)
