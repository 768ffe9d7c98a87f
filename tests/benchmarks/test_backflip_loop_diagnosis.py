"""``benchmarks/backflip_loop_diagnosis.py`` (issue 15): what a backflip loop run's clips contained (hand-made
segments), and the whole report on a tiny real run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load_script

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_clips_count_landings_and_turns_per_round(tmp_path: Path) -> None:
    diagnosis = load_script("backflip_loop_diagnosis")
    (tmp_path / "segments").mkdir()
    landing = np.zeros((4, 5))
    landing[1, 3] = 400.0  # one segment of four lands
    turned = np.array([[0.1] * 5, [1.0, 2.0, 6.5, 6.5, 6.5], [0.0, 1.0, 3.2, 3.3, 3.3], [0.0] * 5])
    np.savez(tmp_path / "segments" / "round_000_000000.npz", term__reward_landing=landing,
             term__backward_rotation=turned, reward=np.ones((4, 5)))
    (row,) = diagnosis.clips(tmp_path)
    assert row["segments"] == 4 and row["segments_with_a_landing"] == 1
    assert row["share_turning_past_half_a_turn"] == 0.5  # 6.5 and 3.3 rad are past pi
    assert row["share_turning_past_a_full_turn"] == 0.25 and 6.5 > 2 * math.pi
    assert row["mean_true_return"] == 5.0


def test_landing_clips_compare_the_learned_return_of_clips_with_and_without_a_landing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rlhf_robotics.robotics.saved_run as saved_run

    diagnosis = load_script("backflip_loop_diagnosis")
    (tmp_path / "segments").mkdir()
    obs = np.zeros((3, 2, 15))
    obs[:, :, 0] = [[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]]  # the hand-made reward pays index 0
    landing = np.zeros((3, 2))
    landing[0, 1] = 400.0  # the first clip lands, and the reward model pays it least
    np.savez(tmp_path / "segments" / "round_000_000000.npz", obs=obs, act=np.zeros((3, 2, 3)), reward=landing + 1.0,
             term__reward_landing=landing)
    monkeypatch.setattr(saved_run, "load_reward_function", lambda run_dir: lambda x: x[:, 0])
    out = diagnosis.landing_clips(tmp_path)
    assert out["clips"] == 3 and out["clips_with_a_landing"] == 1
    assert out["learned_return_with_a_landing"] == 2.0 and out["learned_return_without"] == 6.0  # (4 + 8) / 2
    assert out["true_return_with_a_landing"] == 402.0 and out["true_return_without"] == 2.0
    assert out["landing_clips_ranked_above_the_median_clip"] == 0.0
    assert load_script("make_results").landing(out) == "2.0 / 6.0 (true 402 / 2; 1 clips)"
    assert load_script("make_results").landing({}) == "–"


def test_by_rotation_left_bins_the_steps_of_a_flip_under_way() -> None:
    diagnosis = load_script("backflip_loop_diagnosis")
    o = np.zeros((8, 15))
    o[:4, 12] = 1.0  # airborne, at the furthest rotation (index 11 = 0)
    o[:4, 13] = [0.2, 0.3, 5.0, 5.5]  # two steps near a flip's end, two near its start
    o[3, 11] = 0.5  # regaining rotation: not a flip under way
    learned = np.array([0.0, 0.0, 2.0, 9.0, 1.0, 1.0, 1.0, 1.0])
    true = np.array([3.0, 3.0, 3.0, 9.0, 1.0, 1.0, 1.0, 1.0])
    rows = {tuple(r["rotation_left_rad"]): r for r in diagnosis.by_rotation_left(o, learned, true)}
    assert rows[(0.0, 0.5)]["steps"] == 2 and rows[(5.0, 2 * math.pi)]["steps"] == 1
    assert "learned_minus_ground_in_sd" not in rows[(0.0, 0.5)]  # fewer than 5 steps: not read
    o2 = np.repeat(o[:3], 5, axis=0)
    rows = {tuple(r["rotation_left_rad"]): r for r in diagnosis.by_rotation_left(
        np.concatenate([o2, o[4:]]), np.concatenate([np.repeat(learned[:3], 5), learned[4:]]),
        np.concatenate([np.repeat(true[:3], 5), true[4:]]))}
    end, start = rows[(0.0, 0.5)], rows[(5.0, 2 * math.pi)]
    assert end["steps"] == 10 and end["learned_minus_ground_in_sd"] < 0 < end["true_minus_ground_in_sd"]
    assert start["learned_minus_ground_in_sd"] > 0 and start["true_minus_ground_in_sd"] == end["true_minus_ground_in_sd"]
    assert load_script("make_results").flip_end(list(rows.values())).startswith(
        f"{end['learned_minus_ground_in_sd']:+.2f}, {end['true_minus_ground_in_sd']:+.2f} (10 steps)")


def test_refit_variants_are_parsed_and_their_inputs_built() -> None:
    refit = load_script("backflip_refit")
    assert refit.parse_variant("base") == ("base", {}, 0.97, None, ())
    assert refit.parse_variant("indicator:noise=0,stop=none,hidden=256x256,regularisation=none,ignore=2-3+9") == (
        "indicator", {"noise": 0.0, "regularisation": "none"}, None, (256, 256), (2, 3, 9))
    x = np.zeros((1, 3, 18), dtype=np.float32)
    x[0, :, 13] = [-1.0, 0.0, 2.0]  # rotation left: past the flip, at its end, under way
    x[0, :, 0] = [1.0, 1.5, 3.5]  # torso height
    landing = np.array([[False, True, False]])  # the second step pays the landing
    none = np.zeros(0, int)
    data = refit.Labelled(x, np.zeros((1, 3)), landing, none, none, np.zeros(0), obs_dim=15)
    assert refit.inputs(data, "base") is x
    assert refit.inputs(data, "indicator")[0, :, -1].tolist() == [0.0, 0.0, 1.0]
    assert refit.inputs(data, "split")[0, :, -2:].tolist() == [[0.0, -1.0], [0.0, 0.0], [2.0, 0.0]]
    assert refit.inputs(data, "landed")[0, :, -1].tolist() == [0.0, 1.0, 0.0]
    change = refit.inputs(data, "next_obs_change")
    assert change.shape == (1, 3, 18 + 15) and change[0, :, 18].tolist() == [0.5, 2.0, 0.0]  # 0 on the clip's last step
    assert change[0, :, 18 + 13].tolist() == [1.0, 2.0, 0.0] and data.landed.tolist() == [True]
    with pytest.raises(SystemExit, match="expected one of base, indicator, split, landed, next_obs_change"):
        refit.inputs(data, "bigger")
    with pytest.raises(SystemExit, match="is not KEY=VALUE"):
        refit.parse_variant("base:noise")
    with pytest.raises(SystemExit, match="ignore='2-x' is not indices"):
        refit.parse_variant("base:ignore=2-x")


def test_a_folder_without_segments_is_refused(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(BENCHMARKS / "backflip_loop_diagnosis.py"), str(tmp_path),
                        "--out", str(tmp_path / "out.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "no stored segments" in r.stderr and not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_the_report_of_a_tiny_backflip_run(tmp_path: Path) -> None:
    from rlhf_robotics.preference.trainer import RewardTrainerConfig
    from rlhf_robotics.robotics.config import (
        EnvConfig,
        ExperimentConfig,
        LabelsConfig,
        PPOConfig,
        RewardModelConfig,
    )
    from rlhf_robotics.robotics.loop import run_experiment

    run = tmp_path / "run"
    run_experiment(ExperimentConfig(
        env=EnvConfig(id="rlhf_robotics/HopperBackflip-v3", n_envs=2, segment_steps=10),
        labels=LabelsConfig(total=12, rounds=2, initial_steps=600, buffer_steps=1200),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=2)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=1),
        total_steps=256, seed=0, run_dir=str(run), baseline=False, eval_episodes=1, video=False,
    ), progress=False)
    out = tmp_path / "diagnosis.json"
    subprocess.run([sys.executable, str(BENCHMARKS / "backflip_loop_diagnosis.py"), str(run), "--episodes", "2",
                    "--out", str(out)], check=True, timeout=300)
    (row,) = json.loads(out.read_text())["runs"]
    stored = sum(len(np.load(p)["reward"]) for p in (run / "segments").glob("*.npz"))
    assert sum(c["segments"] for c in row["clips"]) == stored and row["labels"] == 12
    assert sum(row["label_schedule"]) == 12 and len(row["label_schedule"]) == 3  # round 0 and 2 later rounds
    assert row["env_id"] == "rlhf_robotics/HopperBackflip-v3" and row["env_kwargs"] == {}
    assert row["policy"]["episodes"] == 2 and row["policy"]["successes"] <= row["policy"]["episodes_with_a_landing"] + 2
    learned = row["learned_reward"]
    classes = ("turning_within_the_allowance", "turning_past_the_allowance", "on_the_ground")
    assert sum(learned[c]["steps"] for c in classes) <= learned["steps"] == 10 * stored
    assert -1 <= learned["correlation_step"] <= 1
    landing = row["landing_clips"]
    assert landing["clips"] == stored and len(landing["by_rotation_left"]) == 11
    refit = tmp_path / "refit.json"  # benchmarks/backflip_refit.py on the same run: every label is read
    subprocess.run([sys.executable, str(BENCHMARKS / "backflip_refit.py"), str(run), "--variants", "base",
                    "indicator:noise=0", "--fits", "1", "--out", str(refit)], check=True, timeout=300)
    (fitted,) = json.loads(refit.read_text())["runs"]
    assert fitted["labels"] == 12 and [v["variant"] for v in fitted["variants"]] == ["base", "indicator:noise=0"]
    assert all(0 <= v["train_accuracy"] <= 1 and len(v["by_rotation_left"]) == 11 for v in fitted["variants"])
    heldout = tmp_path / "heldout.json"  # with pairs held out, and the landing inputs
    subprocess.run([sys.executable, str(BENCHMARKS / "backflip_refit.py"), str(run), "--variants", "landed",
                    "next_obs_change", "--fits", "1", "--heldout", "0.5", "--out", str(heldout)], check=True, timeout=300)
    (fitted,) = json.loads(heldout.read_text())["runs"]
    assert [v["variant"] for v in fitted["variants"]] == ["landed", "next_obs_change"] and fitted["heldout_fraction"] == 0.5
    for v in fitted["variants"]:
        assert 0 < v["heldout_pairs"] < 12 and 0 <= v["heldout_accuracy"] <= 1 and -1 <= v["correlation_step"] <= 1
        assert (v["landing_step_learned_in_sd"] is None) == (fitted["clips_with_a_landing"] == 0)


def test_results_section_shows_each_run() -> None:
    row = {"run_dir": "runs/a", "env_id": "rlhf_robotics/HopperBackflip-v3", "env_kwargs": {"torso_angle_cos_sin": False},
           "steps": 500_000, "labels": 1000, "label_schedule": [250, 125, 90, 37], "reward_model_accuracy_vs_oracle": 0.876,
           "reward_correlation_step": 0.87, "clips": [{"segments": 500, "segments_with_a_landing": 0},
                                                      {"segments": 336, "segments_with_a_landing": 2}],
           "policy": {"episodes": 40, "episodes_with_a_landing": 0, "turns_median": 1.4, "final_torso_height_median": 0.34},
           "learned_reward": {"turning_within_the_allowance": {"steps": 10, "learned_minus_ground_in_sd": 1.7,
                                                               "true_minus_ground_in_sd": 1.8},
                              "turning_past_the_allowance": {"steps": 0}}}
    text = "\n".join(load_script("make_results").backflip_loop_section({"runs": [row]}))
    assert "| `runs/a` | HopperBackflip-v3 (torso_angle_cos_sin=False) | 500,000 | 1,000 | 250; 125 → 37 (3 rounds) | 0.876 | 0.87 | 2 of 836 | 0 / 40 | 1.40 | 0.34 | +1.70, +1.80 (10 steps) | " \
           "no such steps (0) | – | – |" in text


def test_rows_of_runs_not_read_again_are_kept(tmp_path: Path) -> None:
    """The run directories are git-ignored: a diagnosis of new runs on another machine must not drop the published
    rows of runs that machine does not have; a run read again replaces its own row."""
    diagnosis = load_script("backflip_loop_diagnosis")
    out = tmp_path / "diagnosis.json"
    out.write_text(json.dumps({"command": "python d.py a b", "runs": [{"run_dir": "a", "v": 1}, {"run_dir": "b", "v": 1}]}))
    data = diagnosis.merged(out, [{"run_dir": "b", "v": 2}, {"run_dir": "c", "v": 2}], "python d.py b c")
    assert [(r["run_dir"], r["v"]) for r in data["runs"]] == [("a", 1), ("b", 2), ("c", 2)]
    assert data["command"] == "python d.py b c" and data["earlier_commands"] == ["python d.py a b"]
    header = "\n".join(load_script("make_results").backflip_loop_section({**data, "runs": []}))
    assert "`python d.py b c`" in header and "beside the rows of 1 earlier invocation" in header
    assert diagnosis.merged(out, [{"run_dir": "a"}, {"run_dir": "b"}], "x")["earlier_commands"] == []  # all replaced
    other = diagnosis.merged(out, [{"run_dir": "a", "reward_model_accuracy_vs_oracle": 0.9}], "y")  # a new run there
    assert [r["run_dir"] for r in other["runs"]] == ["a", "b", "a"]
    assert diagnosis.settings({"pretrain": {"steps": 100000, "k": 5}, "ppo": {"ent_coef": 0.0}}) == {"pretrain.steps": 100000}


def test_plot_rounds_draws_each_run_per_label_round_and_names_a_run_without_clips(tmp_path: Path) -> None:
    diagnosis = load_script("backflip_loop_diagnosis")
    clips = [{"segments": 76, "segments_with_a_landing": n, "share_turning_past_a_full_turn": share}
             for n, share in [(0, 0.9), (29, 0.5), (0, 0.0)]]
    rows = [{"run_dir": "runs/seed0", "clips": clips, "policy": {"episodes": 10, "successes": 0}},
            {"run_dir": "runs/seed1", "clips": clips[::-1], "policy": {"episodes": 10, "successes": 8}}]
    diagnosis.plot_rounds(rows, tmp_path / "rounds.png")
    assert (tmp_path / "rounds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="runs/seed2: read runs whose segments/ are kept"):
        diagnosis.plot_rounds([*rows, {"run_dir": "runs/seed2", "clips": []}], tmp_path / "none.png")
