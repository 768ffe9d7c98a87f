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
  pairs in which exactly one clip lands and the teacher preferred it.

Variants (``--variants``): ``base``; ``base:KEY=VALUE,...`` with trainer fields (``noise=0``,
``regularisation=none``), ``stop=none`` (B-Pref's stop off), ``hidden=256x256`` or ``ignore=2-4+8-10`` (step
features the net does not see, ``MLPConfig.ignore_inputs``: here the joints' angles and velocities); ``indicator`` (an input that is
1 while the flip is under way, index 13 > 0); ``split`` (index 13's positive and negative parts as two inputs).

    .venv/bin/python benchmarks/backflip_refit.py RUN_DIR --variants base base:stop=none indicator

Writes ``benchmarks/results/backflip_refit.json`` (``--out``): a run read again replaces its row. About 7 s per fit
on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, index_ranges, judged_pairs, provenance, write_result  # noqa: E402
from backflip_loop_diagnosis import ALLOWANCE_INDEX, by_rotation_left, segment_files  # noqa: E402


def labelled(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The run's labelled clips and labels: features ``(N, T, obs+act)``, true step rewards ``(N, T)``, whether each
    clip lands ``(N,)``, and per judged pair the first and second clip's row and P(first preferred)."""
    feats, true, landed, ids = [], [], [], []
    for path in segment_files(run_dir):
        with np.load(path) as z:
            feats.append(np.concatenate([z["obs"], z["act"]], axis=-1).astype(np.float32))
            true.append(z["reward"])
            landed.append((z["term__reward_landing"] > 0).any(axis=1))
            ids += [str(i) for i in z["ids"]]
    first, second, target = judged_pairs(run_dir, ids)
    return np.concatenate(feats), np.concatenate(true), np.concatenate(landed), first, second, target


INPUTS = ("base", "indicator", "split")
"""Variant families: what the reward net sees (:func:`inputs`)."""


def inputs(x: np.ndarray, name: str) -> np.ndarray:
    """The reward net's inputs for variant family ``name`` (``base``, ``indicator``, ``split``)."""
    left = x[..., ALLOWANCE_INDEX:ALLOWANCE_INDEX + 1]
    if name == "base":
        return x
    if name == "indicator":
        return np.concatenate([x, (left > 0).astype(np.float32)], axis=-1)
    if name == "split":
        return np.concatenate([x, np.maximum(left, 0), np.minimum(left, 0)], axis=-1)
    raise SystemExit(f"variant {name!r}: expected base, indicator or split, optionally with :KEY=VALUE,...")


def parse_variant(spec: str) -> tuple[str, dict[str, Any], float | None, tuple[int, ...] | None, tuple[int, ...]]:
    """``"base:noise=0,stop=none"`` → (inputs, trainer fields, stop accuracy, hidden sizes, ignored inputs)."""
    name, _, settings = spec.partition(":")
    if name not in INPUTS:
        raise SystemExit(f"variant {name!r}: expected base, indicator or split, optionally with :KEY=VALUE,...")
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


def fit(spec: str, data: tuple[np.ndarray, ...], fits: int) -> dict[str, Any]:
    import torch

    from rlhf_robotics.preference.ensemble import MLPConfig, build_step_ensemble
    from rlhf_robotics.preference.techniques import TechniquesConfig
    from rlhf_robotics.preference.trainer import PairDataset, RewardTrainerConfig, train_ensemble

    x0, true, landed, first, second, target = data
    name, trainer, stop, hidden, ignore = parse_variant(spec)
    x = torch.as_tensor(inputs(x0, name))
    one_landing = landed[first] != landed[second]
    landing_won = (landed[first] & (target == 1.0)) | (landed[second] & (target == 0.0))
    obs = x0.reshape(-1, x0.shape[-1])
    per_fit: list[dict[str, Any]] = []
    for seed in range(fits):
        torch.manual_seed(seed)
        mlp = MLPConfig(hidden_sizes=hidden or MLPConfig.hidden_sizes, ignore_inputs=ignore)
        ensemble = build_step_ensemble(x.shape[-1], 3, mlp, seed=seed)
        for m in ensemble.members:
            m.set_input_statistics(x.reshape(-1, x.shape[-1]))  # type: ignore[operator]
        train_ensemble(ensemble, PairDataset(x, torch.as_tensor(first), torch.as_tensor(second), torch.as_tensor(target)),
                       RewardTrainerConfig(device="cpu", **trainer), np.random.default_rng(seed),
                       techniques=TechniquesConfig(stop_accuracy=stop))
        with torch.no_grad():
            step = ensemble.reward(x.reshape(-1, x.shape[-1])).numpy()
        clip = step.reshape(true.shape).sum(axis=1)
        right = (clip[first] > clip[second]) == (target == 1.0)
        decided = target != 0.5
        pick = one_landing & landing_won
        per_fit.append({"train_accuracy": float(right[decided].mean()),
                        "landing_pairs_right": float(right[pick].mean()) if pick.any() else None,
                        "bins": by_rotation_left(obs, step, true.ravel())})
    bins = []
    for k, b in enumerate(per_fit[0]["bins"]):
        row = {"rotation_left_rad": b["rotation_left_rad"], "steps": b["steps"]}
        if "learned_minus_ground_in_sd" in b:
            row["learned_minus_ground_in_sd"] = float(np.mean([f["bins"][k]["learned_minus_ground_in_sd"] for f in per_fit]))
            row["true_minus_ground_in_sd"] = b["true_minus_ground_in_sd"]
        bins.append(row)
    landing = [f["landing_pairs_right"] for f in per_fit if f["landing_pairs_right"] is not None]
    return {"variant": spec, "fits": fits, "train_accuracy": float(np.mean([f["train_accuracy"] for f in per_fit])),
            "landing_pairs": int((one_landing & landing_won).sum()),
            "landing_pairs_right": float(np.mean(landing)) if landing else None, "by_rotation_left": bins}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="loop run directories of HopperBackflip-v3")
    p.add_argument("--variants", nargs="+", default=["base"])
    p.add_argument("--fits", type=int, default=2, help="fresh fits per variant (seeds 0..fits-1)")
    p.add_argument("--out", type=Path, default=RESULTS / "backflip_refit.json")
    args = p.parse_args(argv)
    if args.fits < 1:
        p.error(f"--fits must be >= 1, got {args.fits}")
    for spec in args.variants:
        parse_variant(spec)  # a bad variant fails before any fit
    import torch

    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        data = labelled(run)
        variants: list[dict[str, Any]] = []
        row: dict[str, Any] = {"run_dir": str(run), "labels": len(data[5]), "variants": variants}
        for spec in args.variants:
            variants.append(fit(spec, data, args.fits))
            end = next(b for b in variants[-1]["by_rotation_left"] if b["rotation_left_rad"][0] == 0.0)
            print(f"{run.name} {spec}: train accuracy {variants[-1]['train_accuracy']:.3f}, a flip's last "
                  f"0.5 rad {end.get('learned_minus_ground_in_sd', float('nan')):+.2f} SD "
                  f"(true {end.get('true_minus_ground_in_sd', float('nan')):+.2f})", flush=True)
        rows.append(row)
    earlier = json.loads(args.out.read_text()).get("runs", []) if args.out.is_file() else []
    fresh = {r["run_dir"] for r in rows}
    command = " ".join(["python benchmarks/backflip_refit.py", *(sys.argv[1:] if argv is None else argv)])
    write_result(args.out, {"benchmark": "backflip_refit", "command": command,
                            "runs": [r for r in earlier if r["run_dir"] not in fresh] + rows, **provenance()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
