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
    output: str = "linear"
    """The per-step reward's output: ``linear`` (unbounded; Christiano et al.) or ``tanh``, a step reward in (−1, 1)
    as PEBBLE's and B-Pref's reward networks have (Lee et al. 2021, ``gen_net(activation='tanh')``). Bounded, no
    feature can move a member's step reward by more than 2 however cleanly it separates the labelled pairs; the
    intent is that a few pairs won by a wide margin (a flailing arm against a still one) do not set the scale that
    decides the close ones. Measured once (ReacherSmooth's loop, seed 0): true return -230 against -289, success 0
    either way; so it is off by default."""
    ignore_inputs: tuple[int, ...] = ()
    """Indices of the step features (observation ⊕ action, from 0) that the net does not see: their first-layer
    weights are zero and stay so. For a task whose judge looks at what the arm does to the world, not at the arm's
    joints: a reward model that sees PusherGentle's joint angles and velocities pays the arm poses its own policy
    takes (``conf/env/pusher_gentle.yaml`` says what was measured). () = every feature."""
    input_clip: float | None = None
    """Standardised inputs are clipped to ±this many standard deviations of the fit data (SB3's ``VecNormalize``
    clips observations at 10). A feature that hardly varied in the data a member was fitted on is read, off that
    data, at hundreds of standard deviations, and the member's reward there is a linear extrapolation that nothing
    labelled: HalfCheetahOneLeg's first reward model, fitted on random-policy clips whose cosine of torso pitch
    has std 0.005, reads a cheetah on its back at −400, and PPO's first round rolls over for a learned return of
    50,000-160,000 where its runners' is 1,000-4,000 (``conf/env/half_cheetah_one_leg.yaml``). None = unclipped."""


OUTPUTS: dict[str, Callable[[], nn.Module]] = {"linear": nn.Identity, "tanh": nn.Tanh}
"""``MLPConfig.output`` → the module applied to the last layer's output."""

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


MIN_INPUT_STD = 1e-3
"""A step feature whose std over the fit data is below this is not divided by it (:func:`input_scale`)."""


def input_scale(x: torch.Tensor) -> torch.Tensor:
    """What each feature of ``x`` ``(N, D)`` is divided by when standardised: its std, or 1 where the std is below
    :data:`MIN_INPUT_STD` (scikit-learn's ``StandardScaler`` does the same for constant features).

    A feature that has not varied in the data (PusherGentle's object velocity while no clip has touched the object;
    a fixed goal) teaches the network nothing, and its first-layer weights stay at their random start. Divided by a
    floored std, the first small change later (a gentle push at 0.05 m/s, 50 "standard deviations" at a 1e-3 floor)
    reached those random weights 1,000-fold: the reward model of a PusherGentle loop (seed 0) paid -8 a step on
    true-reward PPO's episodes and 0 on its own, and ranked every one of them below the loop's (truth: every one
    above). Left unscaled, the change stays as small as it is.
    """
    std = x.std(0)
    return torch.where(std < MIN_INPUT_STD, torch.ones_like(std), std)


class StepRewardMLP(nn.Module):
    """r̂(x) for one step's features ``x`` (observation ⊕ action); input standardised by stored statistics.

    Shapes: ``(..., D) → (...)``.
    """

    input_mean: torch.Tensor
    input_std: torch.Tensor
    input_keep: torch.Tensor

    def __init__(self, in_dim: int, config: MLPConfig | None = None) -> None:
        super().__init__()
        config = config or MLPConfig()
        outside = [i for i in config.ignore_inputs if not 0 <= i < in_dim]
        if outside:
            raise ValueError(f"reward_model.mlp.ignore_inputs has {outside}, outside this task's {in_dim} step "
                             f"features (observation ⊕ action, indices 0-{in_dim - 1}); drop them from the list")
        if config.activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {config.activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        if config.output not in OUTPUTS:
            raise ValueError(f"unknown reward output {config.output!r}; expected one of {sorted(OUTPUTS)}")
        layers: list[nn.Module] = []
        width = in_dim
        for h in config.hidden_sizes:
            layers += [nn.Linear(width, h), _ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.output = OUTPUTS[config.output]()
        if config.input_clip is not None and not config.input_clip > 0:
            raise ValueError(f"reward_model.mlp.input_clip={config.input_clip}: must be > 0 (standard deviations; "
                             "SB3's VecNormalize uses 10), or null for unclipped inputs")
        self.input_clip = config.input_clip
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))
        keep = torch.ones(in_dim)
        keep[list(config.ignore_inputs)] = 0.0
        # not in the state dict: it follows from the config, and runs saved before the option load unchanged
        self.register_buffer("input_keep", keep, persistent=False)
        if config.ignore_inputs:
            first = self.net[0]
            assert isinstance(first, nn.Linear)
            with torch.no_grad():
                first.weight.mul_(keep[None, :])  # zero, and the masked input gives them no gradient

    def set_input_statistics(self, x: torch.Tensor) -> None:
        """Standardise inputs with the mean and std of ``x`` ``(N, D)`` (:func:`input_scale`)."""
        self.input_mean.copy_(x.mean(0))
        self.input_std.copy_(input_scale(x))

    @torch.no_grad()
    def restandardise(self, x: torch.Tensor) -> None:
        """Move the input statistics to those of ``x`` ``(N, D)`` without changing the function.

        The first layer absorbs the change: with z = (x − μ)/σ, W z + b equals W' z' + b' for z' = (x − μ')/σ',
        W' = W diag(σ'/σ) and b' = b + W (μ' − μ)/σ. Warm-started training then continues from the same reward
        on inputs standardised for the data it now sees. With ``MLPConfig.input_clip`` the function is kept where
        neither the old nor the new standardisation clips; past a clip it is the clipped one's.
        """
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        mean, std = x.mean(0), input_scale(x)
        first.bias.add_(first.weight @ ((mean - self.input_mean) / self.input_std))
        first.weight.mul_((std / self.input_std)[None, :])
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    @property
    def encoder_width(self) -> int:
        """Width of :meth:`encode`'s output (the last hidden layer; the input width without hidden layers)."""
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        return last.in_features

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The state-action encoder: every layer but the last on standardised inputs, ``(..., D) → (..., H)``
        (REED's self-predictive features, :mod:`rlhf_robotics.preference.self_predictive`)."""
        return self.net[:-1](self._standardise(x))

    def _standardise(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs, clipped to ±``MLPConfig.input_clip``, the ignored ones (``MLPConfig.ignore_inputs``)
        zeroed."""
        z = (x - self.input_mean) / self.input_std
        if self.input_clip is not None:
            z = z.clamp(-self.input_clip, self.input_clip)
        return z * self.input_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.net(self._standardise(x))).squeeze(-1)


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

    Evaluates :meth:`RewardEnsemble.reward` for a batch of steps as one wide MLP: the members' first layers side
    by side (with each member's input standardisation folded into them), later hidden layers block-diagonal,
    and the last layers folded together with the per-member output normalisation, the mean over members and
    the overall scale into one ``(E·h, 1)`` column. A 4-env step is then three matmuls instead of E torch calls
    or a dozen stacked NumPy ops (tiny batches are dominated by per-op overhead). Rebuild it after every
    training round; it does not follow later changes to the ensemble.
    """

    pure = True
    """A step's reward is a function of its features alone (no state, no clock), so PPO may compute a rollout's
    rewards after the rollout (:meth:`~rlhf_robotics.robotics.reward_wrapper.LearnedRewardVecEnv.defer`)."""

    def __init__(self, ensemble: RewardEnsemble) -> None:
        members = [m for m in ensemble.members if isinstance(m, StepRewardMLP)]
        if len(members) != ensemble.size:
            raise TypeError("StackedStepReward needs StepRewardMLP members; use RewardEnsemble.reward instead")
        e = len(members)
        per_member = [[layer for layer in m.net if not isinstance(layer, nn.Dropout)] for m in members]
        linears = [[cast(nn.Linear, layer) for layer in layers if isinstance(layer, nn.Linear)] for layers in per_member]
        self._acts = [type(layer).__name__ for layer in per_member[0] if not isinstance(layer, nn.Linear)]
        output = type(members[0].output).__name__
        self._clipped_input: tuple[np.ndarray, np.ndarray, float, int, bool] | None = None
        """Each member's input mean and std ``(E, D)``, the clip, the first layer's width per member and whether
        all members share their statistics, when ``MLPConfig.input_clip`` is set (the standardisation is then
        applied, not folded into the first layer)."""
        self._output = None if output == "Identity" else _NUMPY_ACTIVATIONS[output]
        """A bounded output (``MLPConfig.output``) comes before each member's normalisation, so the last layer is
        then kept per member instead of folded into one column."""
        # the reward is sum_e c_e * (raw_e - shift_e), c_e = 1 / (scale_e * E * output_scale)
        c = (1.0 / (ensemble.scale.cpu().double() * e * float(ensemble.output_scale))).numpy()
        shift = ensemble.shift.cpu().double().numpy()
        weights: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(len(linears[0])):
            ws = [lin[k].weight.detach().cpu().double().numpy().T for lin in linears]  # (in, out) each
            bs = [lin[k].bias.detach().cpu().double().numpy() for lin in linears]
            if k == 0:  # (x - mean) / std @ W + b = x @ (W / std) + (b - (mean / std) @ W), ignored inputs' rows 0
                ws = [w * m.input_keep.cpu().double().numpy()[:, None] for w, m in zip(ws, members)]
                means = [m.input_mean.cpu().double().numpy() for m in members]
                stds = [m.input_std.cpu().double().numpy() for m in members]
                if members[0].input_clip is None:
                    bs = [b - (mu / sd) @ w for w, b, mu, sd in zip(ws, bs, means, stds)]
                    ws = [w / sd[:, None] for w, sd in zip(ws, stds)]
                else:  # a clip comes between the standardisation and the first layer: nothing folds
                    mu, sd = np.stack(means).astype(np.float32), np.stack(stds).astype(np.float32)
                    shared = bool((mu == mu[0]).all() and (sd == sd[0]).all())
                    self._clipped_input = (mu, sd, float(members[0].input_clip), ws[0].shape[1], shared)
                if self._clipped_input is not None and len(linears[0]) == 1:
                    # no hidden layer: the "hidden" layer is each member's clipped inputs side by side
                    # (:meth:`_hidden`), so the one layer is block-diagonal
                    w = np.zeros((e * ws[0].shape[0], e))
                    for i, block in enumerate(ws):
                        w[i * block.shape[0] : (i + 1) * block.shape[0], i] = block[:, 0]
                else:
                    w = np.concatenate(ws, axis=1)
            else:
                w = np.zeros((sum(x.shape[0] for x in ws), sum(x.shape[1] for x in ws)))
                r = col = 0
                for block in ws:
                    w[r : r + block.shape[0], col : col + block.shape[1]] = block
                    r, col = r + block.shape[0], col + block.shape[1]
            b = np.concatenate(bs)
            if k == len(linears[0]) - 1:  # E outputs -> one normalised mean
                scale = ensemble.scale.cpu().double().numpy()
                # kept per member too, for the ensemble's spread (RUNE's bonus, :meth:`member_rewards`)
                if self._output is not None:  # raw_e = out(h @ w_e + b_e): nothing folds past the output
                    self._members_raw = (w.astype(np.float32), b.astype(np.float32), shift.astype(np.float32),
                                         scale.astype(np.float32), c.astype(np.float32))
                self._members_last = ((w / scale[None, :]).astype(np.float32), ((b - shift) / scale).astype(np.float32))
                b = np.array([b @ c - shift @ c])
                w = w @ c[:, None]
            weights.append((w.astype(np.float32), b.astype(np.float32)))
        self._weights = weights

    def _hidden(self, x: np.ndarray) -> np.ndarray:
        """The last hidden layer of every member side by side, ``(N, E·h)``."""
        h = np.asarray(x, dtype=np.float32)
        if self._clipped_input is not None and len(self._weights) == 1:
            means, stds, clip, _, _ = self._clipped_input
            return np.concatenate([np.clip((h - mu) / sd, -clip, clip) for mu, sd in zip(means, stds)], axis=1)
        for k, (w, b) in enumerate(self._weights[:-1]):
            h = self._first_layer(h, w) if k == 0 and self._clipped_input is not None else h @ w
            h += b
            h = _NUMPY_ACTIVATIONS_INPLACE[self._acts[k]](h)
        return h

    def _first_layer(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``x @ w`` on each member's clipped standardised inputs (``MLPConfig.input_clip``), members side by side;
        one standardisation for all when the members share their statistics (they are set from the same data)."""
        assert self._clipped_input is not None
        means, stds, clip, width, shared = self._clipped_input
        if shared:
            return np.clip((x - means[0]) / stds[0], -clip, clip) @ w
        return np.concatenate([np.clip((x - mu) / sd, -clip, clip) @ w[:, e * width:(e + 1) * width]
                               for e, (mu, sd) in enumerate(zip(means, stds))], axis=1)

    def _raw_members(self, h: np.ndarray) -> np.ndarray:
        """``(N, E)`` each member's bounded output before its normalisation (``MLPConfig.output`` not linear)."""
        assert self._output is not None
        w, b = self._members_raw[:2]
        return self._output(h @ w + b)

    def _reward(self, h: np.ndarray) -> np.ndarray:
        if self._output is not None:
            shift, c = self._members_raw[2], self._members_raw[4]
            return self._raw_members(h) @ c - shift @ c
        w, b = self._weights[-1]
        out = h @ w
        out += b
        if len(self._acts) == len(self._weights):  # an activation after the last layer
            out = _NUMPY_ACTIVATIONS[self._acts[-1]](out)
        return out[:, 0]

    def member_rewards(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` step features → ``(E, N)`` each member's normalised reward (as
        :meth:`RewardEnsemble.normalised_outputs`), e.g. for RUNE's std-over-members bonus
        (:func:`rlhf_robotics.preference.intrinsic.rune_bonus`)."""
        return self._members(self._hidden(x))

    def _members(self, h: np.ndarray) -> np.ndarray:
        if self._output is not None:
            shift, scale = self._members_raw[2:4]
            return ((self._raw_members(h) - shift) / scale).T
        w_members, b_members = self._members_last
        return (h @ w_members + b_members).T

    def reward_and_members(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(self(x), self.member_rewards(x))`` from one pass through the hidden layers (RUNE's hot path)."""
        h = self._hidden(x)
        return self._reward(h), self._members(h)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` step features → ``(N,)`` normalised ensemble reward."""
        return self._reward(self._hidden(x))


_NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ReLU": lambda h: np.maximum(h, 0),
    "LeakyReLU": lambda h: np.maximum(h, 0.01 * h),  # the slope 0.01 of _ACTIVATIONS["leaky_relu"]
    "Tanh": np.tanh,
    "SiLU": lambda h: h / (1 + np.exp(-h)),
}
_NUMPY_ACTIVATIONS_INPLACE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    # the same values written into ``h`` (a fresh layer output): a 4-env step's reward is dominated by allocations
    "ReLU": lambda h: np.maximum(h, 0, out=h),
    "LeakyReLU": lambda h: np.maximum(h, 0.01 * h, out=h),
    "Tanh": lambda h: np.tanh(h, out=h),
    "SiLU": lambda h: np.divide(h, 1 + np.exp(-h), out=h),
}
