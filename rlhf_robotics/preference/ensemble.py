"""Reward ensembles: E scorers trained on the same comparisons, normalised, reduced in one place.

A *member* maps a batch of items to scores. Robotics members return a per-step reward ``(B, T)`` that is
summed over the segment; LM members return one scalar per sequence ``(B,)``. :class:`RewardEnsemble` stacks
them to ``(E, B)``; :meth:`RewardEnsemble.reward` is the only place where members are combined into the
reward an RL algorithm sees (Christiano et al. 2017: each member normalised separately, then averaged, then
scaled to standard deviation 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn


@dataclass
class MLPConfig:
    """Shape of a per-step reward MLP."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Width of each hidden layer."""
    activation: str = "leaky_relu"
    """One of relu, leaky_relu, tanh, silu."""
    dropout: float = 0.0
    """Dropout after each hidden layer (0 = none)."""


_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


class StepRewardMLP(nn.Module):
    """r̂(x) for one step's features ``x`` (observation ⊕ action); input standardised by stored statistics.

    Shapes: ``(..., D) → (...)``.
    """

    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(self, in_dim: int, config: MLPConfig | None = None) -> None:
        super().__init__()
        config = config or MLPConfig()
        if config.activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {config.activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        layers: list[nn.Module] = []
        width = in_dim
        for h in config.hidden_sizes:
            layers += [nn.Linear(width, h), _ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))

    def set_input_statistics(self, x: torch.Tensor) -> None:
        """Standardise inputs with the mean and std of ``x`` ``(N, D)`` (std floored at 1e-3)."""
        self.input_mean.copy_(x.mean(0))
        self.input_std.copy_(x.std(0).clamp_min(1e-3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.input_mean) / self.input_std).squeeze(-1)


class RewardEnsemble(nn.Module):
    """E reward members with per-member output normalisation.

    Args:
        members: modules mapping items to ``(B,)`` scores or ``(B, T)`` per-step rewards.
    """

    shift: torch.Tensor
    scale: torch.Tensor
    output_scale: torch.Tensor

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) == 0:
            raise ValueError("an ensemble needs at least one member; set ensemble_size >= 1")
        self.members = nn.ModuleList(members)
        e = len(members)
        self.register_buffer("shift", torch.zeros(e))
        self.register_buffer("scale", torch.ones(e))
        self.register_buffer("output_scale", torch.ones(()))

    @property
    def size(self) -> int:
        return len(self.members)

    def member_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs of every member, stacked: ``(E, *out)``."""
        return torch.stack([m(x) for m in self.members])

    def item_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Raw score of every item per member, ``(E, B)``: per-step outputs ``(E, B, T)`` are summed over T."""
        out = self.member_outputs(x)
        return out.sum(-1) if out.dim() == 3 else out

    def member_score(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Raw ``(B,)`` item scores of one member (what its trainer optimises)."""
        out = self.members[index](x)
        return out.sum(-1) if out.dim() == 2 else out

    @torch.no_grad()
    def fit_normalisation(self, x: torch.Tensor) -> None:
        """Fit per-member shift/scale and the overall scale on sample inputs ``x``.

        Each member's output over ``x`` is standardised (mean 0, std 1); the member average is then divided by
        its own std, so :meth:`reward` has std 1 on this sample (Christiano et al. 2017, §2.2.1).
        """
        out = self.member_outputs(x).flatten(1)  # (E, N)
        self.shift.copy_(out.mean(1))
        self.scale.copy_(out.std(1).clamp_min(1e-6))
        mean = ((out - self.shift[:, None]) / self.scale[:, None]).mean(0)
        self.output_scale.copy_(mean.std().clamp_min(1e-6))

    def normalised_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Per-member normalised outputs ``(E, *out)``."""
        out = self.member_outputs(x)
        view = (-1,) + (1,) * (out.dim() - 1)
        return (out - self.shift.view(view)) / self.scale.view(view)

    def reward(self, x: torch.Tensor) -> torch.Tensor:
        """The reward an RL algorithm sees: mean of normalised members over the std-1 scale. Shape ``out``."""
        return self.normalised_outputs(x).mean(0) / self.output_scale


@dataclass
class EnsembleMetadata:
    """What is saved beside an ensemble's ``state_dict`` so it can be rebuilt without pickle."""

    in_dim: int
    ensemble_size: int
    mlp: MLPConfig = field(default_factory=MLPConfig)
    schema_version: int = 1


def build_step_ensemble(in_dim: int, ensemble_size: int, mlp: MLPConfig | None = None, seed: int = 0) -> RewardEnsemble:
    """An ensemble of :class:`StepRewardMLP` members, each initialised from its own seed (``seed + i``)."""
    if ensemble_size < 1:
        raise ValueError(f"ensemble_size must be >= 1, got {ensemble_size}")
    members = []
    for i in range(ensemble_size):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + i)
            members.append(StepRewardMLP(in_dim, mlp))
    return RewardEnsemble(members)


class StackedStepReward:
    """A frozen NumPy copy of an ensemble of :class:`StepRewardMLP` members for the RL hot path.

    Evaluates :meth:`RewardEnsemble.reward` for a batch of steps with one stacked matmul per layer instead of
    E separate torch calls (tiny batches are dominated by per-op overhead). Rebuild it after every training
    round; it does not follow later changes to the ensemble.
    """

    def __init__(self, ensemble: RewardEnsemble) -> None:
        weights: list[tuple[np.ndarray, np.ndarray]] = []
        acts: list[str] = []
        members = [m for m in ensemble.members if isinstance(m, StepRewardMLP)]
        if len(members) != ensemble.size:
            raise TypeError("StackedStepReward needs StepRewardMLP members; use RewardEnsemble.reward instead")
        layers = [list(m.net) for m in members]
        for i, layer in enumerate(layers[0]):
            if isinstance(layer, nn.Linear):
                linears = [cast(nn.Linear, ls[i]) for ls in layers]
                w = np.stack([lin.weight.detach().cpu().numpy().T for lin in linears]).astype(np.float32)  # (E, in, out)
                b = np.stack([lin.bias.detach().cpu().numpy() for lin in linears]).astype(np.float32)[:, None, :]
                weights.append((w, b))
            elif isinstance(layer, nn.Dropout):
                continue
            else:
                acts.append(type(layer).__name__)
        self._weights = weights
        self._acts = acts
        self._mean = np.stack([m.input_mean.cpu().numpy() for m in members]).astype(np.float32)[:, None, :]
        self._std = np.stack([m.input_std.cpu().numpy() for m in members]).astype(np.float32)[:, None, :]
        self._shift = ensemble.shift.cpu().numpy().astype(np.float32)[:, None]
        self._scale = ensemble.scale.cpu().numpy().astype(np.float32)[:, None]
        self._out = float(ensemble.output_scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` step features → ``(N,)`` normalised ensemble reward."""
        h = (np.asarray(x, dtype=np.float32)[None] - self._mean) / self._std  # (E, N, D)
        for k, (w, b) in enumerate(self._weights):
            h = h @ w + b
            if k < len(self._acts):
                h = _NUMPY_ACTIVATIONS[self._acts[k]](h)
        out = (h[..., 0] - self._shift) / self._scale  # (E, N)
        return out.mean(0) / self._out


_NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ReLU": lambda h: np.maximum(h, 0),
    "LeakyReLU": lambda h: np.where(h > 0, h, 0.01 * h),
    "Tanh": np.tanh,
    "SiLU": lambda h: h / (1 + np.exp(-h)),
}
