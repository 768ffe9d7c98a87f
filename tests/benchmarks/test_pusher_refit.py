"""``benchmarks/pusher_refit.py`` (issue 15): a PusherGentle loop run's reward ensemble refitted offline with
variants of what it sees, scored on a scripted approach beside the loop policy's own steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load_script


def test_variants_parse_and_a_bad_one_names_the_forms() -> None:
    refit = load_script("pusher_refit")
    assert refit.parse_variant("base") == {}
    assert refit.parse_variant("ignore=0-13") == {"ignore": tuple(range(14))}
    assert refit.parse_variant("ignore=4") == {"ignore": (4,)}
    assert refit.parse_variant("noise=0.5") == {"noise": 0.5}
    assert refit.parse_variant("hidden=16x16") == {"hidden": (16, 16)}
    for bad in ("ignore", "noise=x", "wide=3"):
        with pytest.raises(SystemExit, match="expected base, ignore=A-B"):
            refit.parse_variant(bad)


def test_the_gap_compares_sources_within_distance_bins_only() -> None:
    refit = load_script("pusher_refit")
    n = refit.MIN_BIN_STEPS
    distance = np.concatenate([np.full(n, 0.12), np.full(n, 0.12), np.full(n, 0.25), np.full(5, 0.25)])
    own = np.array([True] * n + [False] * n + [True] * n + [False] * 5)
    value = np.concatenate([np.full(n, 1.0), np.full(n, -0.5), np.full(n, 3.0), np.full(5, -9.0)])
    assert refit.gap(value, own, distance) == pytest.approx(-1.5)  # the 20-30 cm bin has too few scripted steps
    assert refit.gap(value, own, np.full(len(value), 0.9)) is None


def test_the_fit_ignores_what_it_is_told_to(tmp_path: Path) -> None:
    refit = load_script("pusher_refit")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 4)).astype(np.float32)
    first, second = np.arange(0, 40, 2), np.arange(1, 40, 2)
    target = (x[first, :, 0].sum(1) > x[second, :, 0].sum(1)).astype(np.float32)
    ensemble = refit.fit((x, first, second, target), refit.parse_variant("ignore=0-1"), seed=0)
    for m in ensemble.members:
        assert float(m.net[0].weight[:, :2].abs().sum()) == 0.0 and float(m.net[0].weight[:, 2:].abs().sum()) > 0


def test_bad_arguments_name_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refit = load_script("pusher_refit")
    with pytest.raises(SystemExit):
        refit.main([str(tmp_path), "--fits", "0"])
    assert "--fits and --episodes must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        refit.main([str(tmp_path)])
    assert "not a run directory" in capsys.readouterr().err
