"""Why a backflip loop run's learned reward gives flips up part-way (issue 15), without RL: refit the loop's reward
ensemble offline on the run's own labelled clips and labels, with variants of the trainer, the net and its inputs,
and read what each pays along a flip.

``benchmarks/backflip_loop_diagnosis.py`` reads a run's *final* reward model by what is left of the flip's rotation
(observation index 13): in failing runs it pays a flip's start more than the objective does and its last radian
little or nothing, and the policy gives flips up 0.5-0.85 turns in. This script asks whether that is the loop's
incremental fit (warm starts, round after round) or the labels themselves, and whether a trainer setting, a
larger net or an extra input changes it: each variant fits a fresh ensemble (the loop's: 3 members, its default
trainer, B-Pref's stop at 97 %) on all of the run's labels at once, ``--fits`` times with different seeds, and
reports per variant (mean over fits):

- ``by_rotation_left``: the learned and true step reward of a flip under way, per bin of rotation left, minus the
  on-the-ground mean, in standard deviations (``backflip_loop_diagnosis.by_rotation_left``);
- ``train_accuracy``: share of the run's labels the fit agrees with; ``landing_pairs_right``: the same over the
  pairs in which exactly one clip lands and the teacher preferred it;
- the landing (Dec 6): ``landing_step_learned_in_sd``, the learned reward of the steps that pay ``reward_landing``
  in standard deviations from the mean labelled step (the objective's: ``landing_step_true_in_sd``),
  ``landing_clips_above_the_median_clip`` and ``correlation_step`` (learned against true step reward on every
  labelled step); with ``--heldout F`` a fixed share F of the judged pairs is left out of every fit and
  ``heldout_accuracy`` (and ``heldout_accuracy_with_a_landing``, pairs with a landing clip) is read on it.

Variants (``--variants``): ``base``; ``base:KEY=VALUE,...`` with trainer fields (``noise=0``,
``regularisation=none``), ``stop=none`` (B-Pref's stop off), ``hidden=256x256`` or ``ignore=2-4+8-10`` (step
features the net does not see, ``MLPConfig.ignore_inputs``: here the joints' angles and velocities); ``indicator`` (an input that is
1 while the flip is under way, index 13 > 0); ``split`` (index 13's positive and negative parts as two inputs);
``landed`` (1 on the steps that pay ``reward_landing``: what HopperBackflip-v4's index 15 shows the step that pays
it); ``next_obs_change`` (the observation's change over the step, 0 on a clip's last step: what a reward of the
next observation too would see).

Dec 6: on the suite loop's HopperBackflip-v3 seeds 0-4 (``calibrated_set-selection.name=entropy``), ``base`` pays
the landing steps below the mean step on the seed that landed no flip, and ``landed`` and ``next_obs_change`` pay
them tens of SD above it; HopperBackflip-v4 followed (RESULTS.md, NOTES.md "Dec 6, eighth sitting").

    .venv/bin/python benchmarks/backflip_refit.py RUN_DIR --variants base base:stop=none indicator
    .venv/bin/python benchmarks/backflip_refit.py RUN_DIR ... --variants base landed next_obs_change --fits 1 --heldout 0.2

Writes ``benchmarks/results/backflip_refit.json`` (``--out``): a run read again replaces its row. About 7 s per fit
on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, index_ranges, judged_pairs, provenance, write_result  # noqa: E402
from backflip_loop_diagnosis import ALLOWANCE_INDEX, by_rotation_left, segment_files  # noqa: E402


@dataclass(frozen=True)
class Labelled:
    """A run's labelled clips and labels."""

    x: np.ndarray
    """``(N, T, obs + act)`` step features, as the loop's reward net sees them."""
    true: np.ndarray
    """``(N, T)`` true step rewards."""
    landing: np.ndarray
    """``(N, T)`` steps that pay ``reward_landing``."""
    first: np.ndarray
    """Per judged pair, the first clip's row."""
    second: np.ndarray
    """Per judged pair, the second clip's row."""
    target: np.ndarray
    """Per judged pair, P(first preferred)."""
    obs_dim: int

    @property
    def landed(self) -> np.ndarray:
        """``(N,)`` clips holding a landing."""
        return np.asarray(self.landing.any(axis=1))


def labelled(run_dir: Path) -> Labelled:
    """The run's labelled clips and labels."""
    feats, true, landing, ids = [], [], [], []
    obs_dim = 0
    for path in segment_files(run_dir):
        with np.load(path) as z:
            feats.append(np.concatenate([z["obs"], z["act"]], axis=-1).astype(np.float32))
            true.append(z["reward"])
            landing.append(z["term__reward_landing"] > 0)
            ids += [str(i) for i in z["ids"]]
            obs_dim = z["obs"].shape[-1]
    first, second, target = judged_pairs(run_dir, ids)
    return Labelled(np.concatenate(feats), np.concatenate(true), np.concatenate(landing), first, second, target, obs_dim)


INPUTS = ("base", "indicator", "split", "landed", "next_obs_change")
"""Variant families: what the reward net sees (:func:`inputs`)."""


def inputs(data: Labelled, name: str) -> np.ndarray:
    """The reward net's inputs for variant family ``name`` (one of :data:`INPUTS`)."""
    x = data.x
    left = x[..., ALLOWANCE_INDEX:ALLOWANCE_INDEX + 1]
    if name == "base":
        return x
    if name == "indicator":
        return np.concatenate([x, (left > 0).astype(np.float32)], axis=-1)
    if name == "split":
        return np.concatenate([x, np.maximum(left, 0), np.minimum(left, 0)], axis=-1)
    if name == "landed":
        return np.concatenate([x, data.landing[..., None].astype(np.float32)], axis=-1)
    if name == "next_obs_change":
        obs = x[..., :data.obs_dim]
        change = np.concatenate([obs[:, 1:] - obs[:, :-1], np.zeros_like(obs[:, :1])], axis=1)
        return np.concatenate([x, change], axis=-1)
    raise SystemExit(f"variant {name!r}: expected one of {', '.join(INPUTS)}, optionally with :KEY=VALUE,...")


def parse_variant(spec: str) -> tuple[str, dict[str, Any], float | None, tuple[int, ...] | None, tuple[int, ...]]:
    """``"base:noise=0,stop=none"`` → (inputs, trainer fields, stop accuracy, hidden sizes, ignored inputs)."""
    name, _, settings = spec.partition(":")
    if name not in INPUTS:
        raise SystemExit(f"variant {name!r}: expected one of {', '.join(INPUTS)}, optionally with :KEY=VALUE,...")
    trainer: dict[str, Any] = {}
    stop: float | None = 0.97
    hidden = None
    ignore: tuple[int, ...] = ()
    for item in filter(None, settings.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"variant {spec!r}: {item!r} is not KEY=VALUE")
        if key == "stop":
            stop = None if value == "none" else float(value)
        elif key == "hidden":
            hidden = tuple(int(h) for h in value.split("x"))
        elif key == "ignore":
            try:
                ignore = index_ranges(value)
            except ValueError:
                raise SystemExit(f"variant {spec!r}: ignore={value!r} is not indices like 2-4+8-10") from None
        else:
            trainer[key] = float(value) if value.replace(".", "", 1).isdigit() else value
    return name, trainer, stop, hidden, ignore


def in_sd(values: np.ndarray, of: np.ndarray) -> float | None:
    """Mean of ``values`` where ``of``, minus the mean of all, in standard deviations of all; None where none is."""
    return float((values[of].mean() - values.mean()) / values.std()) if of.any() else None


def fit(spec: str, data: Labelled, fits: int, held: np.ndarray) -> dict[str, Any]:
    """``fits`` fresh fits of variant ``spec`` on every judged pair but the ``held`` ones (a boolean per pair)."""
    import torch

    from rlhf_robotics.preference.ensemble import MLPConfig, build_step_ensemble
    from rlhf_robotics.preference.techniques import TechniquesConfig
    from rlhf_robotics.preference.trainer import PairDataset, RewardTrainerConfig, train_ensemble

    true, landed, first, second, target = data.true, data.landed, data.first, data.second, data.target
    name, trainer, stop, hidden, ignore = parse_variant(spec)
    x = torch.as_tensor(inputs(data, name))
    landing_won = (landed[first] & (target == 1.0)) | (landed[second] & (target == 0.0))
    pick = (landed[first] != landed[second]) & landing_won & ~held  # trained pairs one landing clip won
    decided = target != 0.5
    with_landing = decided & held & (landed[first] | landed[second])
    obs = data.x.reshape(-1, data.x.shape[-1])
    train = np.flatnonzero(~held)
    per_fit: list[dict[str, Any]] = []
    for seed in range(fits):
        torch.manual_seed(seed)
        mlp = MLPConfig(hidden_sizes=hidden or MLPConfig.hidden_sizes, ignore_inputs=ignore)
        ensemble = build_step_ensemble(x.shape[-1], 3, mlp, seed=seed)
        for m in ensemble.members:
            m.set_input_statistics(x.reshape(-1, x.shape[-1]))  # type: ignore[operator]
        train_ensemble(ensemble, PairDataset(x, torch.as_tensor(first[train]), torch.as_tensor(second[train]),
                                             torch.as_tensor(target[train])),
                       RewardTrainerConfig(device="cpu", **trainer), np.random.default_rng(seed),
                       techniques=TechniquesConfig(stop_accuracy=stop))
        with torch.no_grad():
            step = ensemble.reward(x.reshape(-1, x.shape[-1])).numpy()
        clip = step.reshape(true.shape).sum(axis=1)
        right = (clip[first] > clip[second]) == (target == 1.0)
        per_fit.append({"train_accuracy": float(right[decided & ~held].mean()),
                        "landing_pairs_right": float(right[pick].mean()) if pick.any() else None,
                        "heldout_accuracy": float(right[decided & held].mean()) if (decided & held).any() else None,
                        "heldout_accuracy_with_a_landing": (float(right[with_landing].mean())
                                                            if with_landing.any() else None),
                        "correlation_step": float(np.corrcoef(step, true.ravel())[0, 1]),
                        "landing_step_learned_in_sd": in_sd(step, data.landing.ravel()),
                        "landing_clips_above_the_median_clip": (float(np.mean(clip[landed] > np.median(clip)))
                                                                if landed.any() else None),
                        "bins": by_rotation_left(obs, step, true.ravel())})
    bins = []
    for k, b in enumerate(per_fit[0]["bins"]):
        row = {"rotation_left_rad": b["rotation_left_rad"], "steps": b["steps"]}
        if "learned_minus_ground_in_sd" in b:
            row["learned_minus_ground_in_sd"] = float(np.mean([f["bins"][k]["learned_minus_ground_in_sd"] for f in per_fit]))
            row["true_minus_ground_in_sd"] = b["true_minus_ground_in_sd"]
        bins.append(row)

    def mean(key: str) -> float | None:
        values = [f[key] for f in per_fit if f[key] is not None]
        return float(np.mean(values)) if values else None

    return {"variant": spec, "fits": fits, "train_accuracy": mean("train_accuracy"),
            "landing_pairs": int(pick.sum()), "landing_pairs_right": mean("landing_pairs_right"),
            "heldout_pairs": int(held.sum()), "heldout_accuracy": mean("heldout_accuracy"),
            "heldout_accuracy_with_a_landing": mean("heldout_accuracy_with_a_landing"),
            "correlation_step": mean("correlation_step"), "landing_step_learned_in_sd": mean("landing_step_learned_in_sd"),
            "landing_step_true_in_sd": in_sd(true.ravel(), data.landing.ravel()),
            "landing_clips_above_the_median_clip": mean("landing_clips_above_the_median_clip"), "by_rotation_left": bins}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="loop run directories of HopperBackflip-v3")
    p.add_argument("--variants", nargs="+", default=["base"])
    p.add_argument("--fits", type=int, default=2, help="fresh fits per variant (seeds 0..fits-1)")
    p.add_argument("--heldout", type=float, default=0.0,
                   help="share of judged pairs left out of every fit and scored (fixed per run; 0: fit on all)")
    p.add_argument("--out", type=Path, default=RESULTS / "backflip_refit.json")
    args = p.parse_args(argv)
    if args.fits < 1:
        p.error(f"--fits must be >= 1, got {args.fits}")
    if not 0 <= args.heldout < 1:
        p.error(f"--heldout {args.heldout}: give a share from 0 up to (not including) 1, e.g. 0.2")
    for spec in args.variants:
        parse_variant(spec)  # a bad variant fails before any fit
    import torch

    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        data = labelled(run)
        heldout = np.random.default_rng(0).random(len(data.target)) < args.heldout
        variants: list[dict[str, Any]] = []
        row: dict[str, Any] = {"run_dir": str(run), "labels": len(data.target), "heldout_fraction": args.heldout,
                               "clips": len(data.x), "clips_with_a_landing": int(data.landed.sum()),
                               "variants": variants}
        for spec in args.variants:
            variants.append(fit(spec, data, args.fits, heldout))
            end = next(b for b in variants[-1]["by_rotation_left"] if b["rotation_left_rad"][0] == 0.0)
            print(f"{run.name} {spec}: train accuracy {variants[-1]['train_accuracy']:.3f}, a flip's last "
                  f"0.5 rad {end.get('learned_minus_ground_in_sd', float('nan')):+.2f} SD "
                  f"(true {end.get('true_minus_ground_in_sd', float('nan')):+.2f}), landing steps "
                  f"{variants[-1]['landing_step_learned_in_sd'] or float('nan'):+.1f} SD, step correlation "
                  f"{variants[-1]['correlation_step']:.2f}", flush=True)
        rows.append(row)
    earlier = json.loads(args.out.read_text()).get("runs", []) if args.out.is_file() else []
    fresh = {r["run_dir"] for r in rows}
    command = " ".join(["python benchmarks/backflip_refit.py", *(sys.argv[1:] if argv is None else argv)])
    write_result(args.out, {"benchmark": "backflip_refit", "command": command,
                            "runs": [r for r in earlier if r["run_dir"] not in fresh] + rows, **provenance()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
