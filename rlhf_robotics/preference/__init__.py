"""The shared preference core: records, store, losses, reward ensembles and their trainer, query selection,
synthetic teachers and rubrics. Imports only the standard library, numpy and torch (a test enforces it)."""

from rlhf_robotics.preference.ensemble import MLPConfig, RewardEnsemble, StepRewardMLP, build_step_ensemble
from rlhf_robotics.preference.losses import bradley_terry_loss, preference_probability
from rlhf_robotics.preference.records import (
    LABEL_TARGET,
    LABELS,
    Judgment,
    Label,
    Query,
    StoredJudgment,
    aggregate_targets,
    current_judgments,
)
from rlhf_robotics.preference.rubric import Criterion, Rubric
from rlhf_robotics.preference.selection import SELECTORS, select
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.teachers import PRESETS, Teacher, TeacherConfig, build_teacher
from rlhf_robotics.preference.techniques import (
    REEDConfig,
    RIMEConfig,
    RUNEConfig,
    SURFConfig,
    TechniquesConfig,
)
from rlhf_robotics.preference.trainer import (
    PairDataset,
    RewardTrainerConfig,
    RewardTrainerMetrics,
    train_ensemble,
)

__all__ = [
    "LABELS",
    "LABEL_TARGET",
    "PRESETS",
    "SELECTORS",
    "Criterion",
    "Judgment",
    "Label",
    "MLPConfig",
    "PairDataset",
    "PreferenceStore",
    "REEDConfig",
    "RIMEConfig",
    "RUNEConfig",
    "Query",
    "RewardEnsemble",
    "RewardTrainerConfig",
    "RewardTrainerMetrics",
    "Rubric",
    "SURFConfig",
    "StepRewardMLP",
    "StoredJudgment",
    "Teacher",
    "TeacherConfig",
    "TechniquesConfig",
    "aggregate_targets",
    "bradley_terry_loss",
    "build_step_ensemble",
    "build_teacher",
    "current_judgments",
    "preference_probability",
    "select",
    "train_ensemble",
]
