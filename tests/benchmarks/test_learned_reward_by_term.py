"""``benchmarks/learned_reward_by_term.py`` (issue 15): the learned and true step reward, standardised, per bin of
one info term."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load_script


def test_bins_standardise_both_rewards_and_set_aside_the_excluded_steps() -> None:
    by_term = load_script("learned_reward_by_term")
    n = 30
    speed = np.concatenate([np.full(n, 0.5), np.full(n, 2.0), np.full(n, 2.0)])
    fallen = np.concatenate([np.zeros(2 * n), np.ones(n)])
    true = np.concatenate([np.full(n, 1.0), np.full(n, 1.0), np.full(n, -2.0)])  # flat past the cap
    learned = np.concatenate([np.full(n, 1.0), np.full(n, 3.0), np.full(n, -2.0)])  # keeps paying speed
    steps = {"true": true, "info:x_velocity": speed, "info:fallen": fallen}
    rows = by_term.bins(steps, learned, "x_velocity", [0.0, 1.0, 3.0, 9.0], ("fallen", 0.0))
    slow, fast, empty, excluded = rows
    assert slow["steps"] == fast["steps"] == n and excluded["steps"] == n and excluded["not"] == "fallen=0"
    assert fast["true_z"] == pytest.approx(slow["true_z"]) and fast["learned_z"] > slow["learned_z"] + 0.5
    assert empty == {"x_velocity": [3.0, 9.0], "steps": 0}  # too few steps: no means
    assert excluded["learned_z"] < 0 and excluded["true_z"] < 0
    z = (learned - learned.mean()) / learned.std()
    assert fast["learned_z"] == pytest.approx(z[n:2 * n].mean())


def test_bad_arguments_name_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_term = load_script("learned_reward_by_term")
    for argv, said in ((["--edges", "1,0"], "increasing"), (["--edges", "a,b"], "numbers"),
                       (["--edges", "0,1", "--episodes", "0"], "at least 1")):
        with pytest.raises(SystemExit):
            by_term.main([str(tmp_path), "--term", "x_velocity", *argv])
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit, match="TERM=NUMBER"):
        by_term.parse_where("fallen=no")
    with pytest.raises(SystemExit):
        by_term.main([str(tmp_path), "--term", "x_velocity", "--edges", "0,1"])
    assert "not a run directory" in capsys.readouterr().err
