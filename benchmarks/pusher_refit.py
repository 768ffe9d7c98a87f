"""Which inputs make a PusherGentle loop run's reward model pay its own arm poses? (issue 15), without RL: refit
the run's reward ensemble offline on its own labelled clips and labels, with variants of what the net sees, and
score the steps of ``pusher_reward_probe.py``'s scripted approach beside the loop policy's own.

``pusher_reward_probe.py`` found that a loop run's final reward model scores a scripted approach to the object
0.5-2.0 SD below the loop policy's own steps at the same fingertip-object distance, although the scripted steps
earn more true reward there. This script asks what the fit is using to tell them apart: each variant fits a fresh
ensemble (the loop's: 3 members, its default trainer, B-Pref's stop at 97 %) on all of the run's labels at once,
``--fits`` times with different seeds, and reports per variant (mean over fits):

- ``gap_scripted_minus_loop_in_sd``: the learned reward of scripted steps minus the loop's own, at equal distance
  (mean over the 5-10, 10-15, 15-20 and 20-30 cm bins with >= 20 steps of each), in standard deviations of the
  learned reward on the loop's own steps; ``true_gap_in_sd`` is the same for the true reward (what a model that
  paid the objective would show);
- ``correlation_scripted`` / ``correlation_loop``: Pearson correlation of learned and true step reward on each.

Variants (``--variants``): ``base``; ``ignore=A-B[+C-D]`` (step features A..B, observation then action, not seen:
``MLPConfig.ignore_inputs``); ``noise=S`` (Gaussian noise of S standard deviations on every standardised input
while training); ``drop=P`` (each standardised input zeroed with probability P while training); ``hidden=AxB``.

    .venv/bin/python benchmarks/pusher_refit.py RUN_DIR --variants base ignore=0-13 noise=1 drop=0.5

Writes ``benchmarks/results/pusher_refit.json`` (``--out``): a run read again replaces its row. About 10 s per fit
on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, add_runs, index_ranges, judged_pairs  # noqa: E402
from pusher_reward_probe import scripted_and_own  # noqa: E402

BINS = ((0.05, 0.1), (0.1, 0.15), (0.15, 0.2), (0.2, 0.3))
"""Fingertip-object distance bins (m) over which the scripted-minus-loop gap is averaged."""
MIN_BIN_STEPS = 20


def labelled(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The run's labelled clips ``(N, T, obs+act)`` and per judged pair the first and second clip's row and
    P(first preferred)."""
    files = sorted((run_dir / "segments").glob("*.npz"))
    if not files:
        raise SystemExit(f"{run_dir}: no stored segments (segments/*.npz); give a loop run directory")
    feats, ids = [], []
    for path in files:
        with np.load(path) as z:
            feats.append(np.concatenate([z["obs"], z["act"]], axis=-1).astype(np.float32))
            ids += [str(i) for i in z["ids"]]
    first, second, target = judged_pairs(run_dir, ids)
    return np.concatenate(feats), first, second, target


def parse_variant(spec: str) -> dict[str, Any]:
    """``"ignore=0-13"`` → ``{"ignore": (0, ..., 13)}``; ``"base"`` → ``{}``."""
    if spec == "base":
        return {}
    key, eq, value = spec.partition("=")
    try:
        if key == "ignore" and eq:
            return {"ignore": index_ranges(value)}
        if key in ("noise", "drop") and eq:
            return {key: float(value)}
        if key == "hidden" and eq:
            return {"hidden": tuple(int(h) for h in value.split("x"))}
    except ValueError:
        pass
    raise SystemExit(f"variant {spec!r}: expected base, ignore=A-B, noise=S, drop=P or hidden=AxB")


def fit(data: tuple[np.ndarray, ...], variant: dict[str, Any], seed: int) -> Any:
    """A fresh 3-member ensemble fitted to every label of the run."""
    import torch

    from rlhf_robotics.preference.ensemble import MLPConfig, RewardEnsemble, StepRewardMLP
    from rlhf_robotics.preference.techniques import TechniquesConfig
    from rlhf_robotics.preference.trainer import PairDataset, RewardTrainerConfig, train_ensemble

    noise, drop = variant.get("noise", 0.0), variant.get("drop", 0.0)

    class Perturbed(StepRewardMLP):
        """Noise or feature dropout on the standardised inputs while training."""

        def _standardise(self, x: torch.Tensor) -> torch.Tensor:
            z = super()._standardise(x)
            if self.training and noise:
                z = z + noise * torch.randn_like(z)
            if self.training and drop:
                z = z * (torch.rand_like(z) >= drop)
            return z

    x0, first, second, target = data
    x = torch.as_tensor(x0)
    config = MLPConfig(hidden_sizes=variant.get("hidden", (64, 64)), ignore_inputs=variant.get("ignore", ()))
    torch.manual_seed(seed)
    members = [Perturbed(x.shape[-1], config) for _ in range(3)]
    for m in members:
        m.set_input_statistics(x.reshape(-1, x.shape[-1]))
    ensemble = RewardEnsemble(members)
    train_ensemble(ensemble, PairDataset(x, torch.as_tensor(first), torch.as_tensor(second), torch.as_tensor(target)),
                   RewardTrainerConfig(device="cpu"), np.random.default_rng(seed),
                   techniques=TechniquesConfig(stop_accuracy=0.97))
    return ensemble


def gap(value: np.ndarray, own: np.ndarray, distance: np.ndarray) -> float | None:
    """Mean over :data:`BINS` of scripted-minus-loop ``value`` (already in SD of the loop's own steps)."""
    gaps = []
    for lo, hi in BINS:
        inside = (distance >= lo) & (distance < hi)
        a, b = inside & own, inside & ~own
        if a.sum() >= MIN_BIN_STEPS and b.sum() >= MIN_BIN_STEPS:
            gaps.append(float(value[b].mean() - value[a].mean()))
    return float(np.mean(gaps)) if gaps else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="PusherGentle loop run directories")
    p.add_argument("--variants", nargs="+", default=["base", "ignore=0-13"])
    p.add_argument("--fits", type=int, default=2, help="fresh fits per variant (seeds 0..fits-1)")
    p.add_argument("--episodes", type=int, default=10, help="episodes each of the scripted arm and the loop policy")
    p.add_argument("--seed", type=int, default=100, help="env seed of the first episode")
    p.add_argument("--out", type=Path, default=RESULTS / "pusher_refit.json")
    args = p.parse_args(argv)
    if args.fits < 1 or args.episodes < 1:
        p.error(f"--fits and --episodes must be >= 1, got {args.fits} and {args.episodes}")
    variants = {spec: parse_variant(spec) for spec in args.variants}  # a bad variant fails before any fit
    import torch

    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        scripted, loop = scripted_and_own(run, args.episodes, args.seed, 3.0, 0.1, p.error)
        features = torch.as_tensor(np.concatenate([loop["features"], scripted["features"]]))
        true = np.concatenate([loop["true"], scripted["true"]])
        distance = np.concatenate([loop["info:tip_object_distance"], scripted["distance"]])
        own = np.arange(len(true)) < len(loop["true"])
        true_sd = (true - true[own].mean()) / true[own].std()
        data = labelled(run)
        row: dict[str, Any] = {"run_dir": str(run), "labels": len(data[3]), "episodes": args.episodes,
                               "true_gap_in_sd": gap(true_sd, own, distance), "variants": []}
        print(f"{run.name}: {row['labels']} labels; true reward, scripted minus loop: {row['true_gap_in_sd']:+.2f} SD")
        for spec, variant in variants.items():
            per_fit = []
            for seed in range(args.fits):
                ensemble = fit(data, variant, seed)
                with torch.no_grad():
                    learned = ensemble.reward(features).numpy().astype(np.float64)
                learned = (learned - learned[own].mean()) / learned[own].std()
                per_fit.append((gap(learned, own, distance), np.corrcoef(learned[~own], true[~own])[0, 1],
                                np.corrcoef(learned[own], true[own])[0, 1]))
            gaps = [g for g, _, _ in per_fit if g is not None]
            result = {"variant": spec, "fits": args.fits,
                      "gap_scripted_minus_loop_in_sd": float(np.mean(gaps)) if gaps else None,
                      "correlation_scripted": float(np.mean([c for _, c, _ in per_fit])),
                      "correlation_loop": float(np.mean([c for _, _, c in per_fit]))}
            row["variants"].append(result)
            print(f"  {spec:12s} scripted minus loop {result['gap_scripted_minus_loop_in_sd'] or float('nan'):+.2f} SD, "
                  f"correlation with the true reward: scripted {result['correlation_scripted']:+.2f}, "
                  f"loop {result['correlation_loop']:+.2f}", flush=True)
        rows.append(row)
    add_runs(args.out, "pusher_refit", argv, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
