"""labels.source=human: the loop asks, renders clips for people, waits for the first answers, and consumes
later answers as they arrive, all through the run directory the labelling app serves."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from rlhf_robotics.preference.records import Judgment
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.preference.trainer import RewardTrainerConfig
from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    OffPolicyConfig,
    PPOConfig,
    PretrainConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import run_experiment


class SimulatedPerson(threading.Thread):
    """Answers open queries in the store (by true return, as a careful person would), slowly."""

    def __init__(self, store_path: Path, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.store_path, self.stop_event, self.answered = store_path, stop, 0

    def run(self) -> None:
        while not self.store_path.exists() and not self.stop_event.is_set():
            time.sleep(0.05)
        store = PreferenceStore(self.store_path)
        done: set[int] = set()
        while not self.stop_event.is_set():
            for sq in store.queries():
                if sq.id in done:
                    continue
                m = sq.query.meta
                label = "first" if m["true_return_first"] >= m["true_return_second"] else "second"
                store.add_judgment(Judgment(sq.id, label, "human:sim", shown_left="first", seconds=0.1))
                done.add(sq.id)
                self.answered += 1
                time.sleep(0.01)
            time.sleep(0.05)
        store.close()


@pytest.mark.slow
@pytest.mark.render
@pytest.mark.parametrize("method", ["ppo", "pebble"])
def test_loop_consumes_human_answers_as_they_arrive(tmp_path: Path, method: str) -> None:
    run = tmp_path / "run"
    agent: dict = dict(ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2), total_steps=256)
    if method == "pebble":  # SAC: pre-training, then people's first answers, critic reset, relabelled buffer
        agent = dict(algo="sac", off_policy=OffPolicyConfig(learning_starts=50, batch_size=32, net_arch=[32, 32]),
                     pretrain=PretrainConfig(steps=100, reset_updates=5), total_steps=400)
    config = ExperimentConfig(
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=10),
        labels=LabelsConfig(total=16, rounds=2, initial_steps=200, buffer_steps=400, source="human", human_min_initial=4,
                            human_timeout_s=120),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5)),
        run_dir=str(run), baseline=False, eval_episodes=1, video=False, **agent,
    )
    stop = threading.Event()
    person = SimulatedPerson(run / "preferences.sqlite", stop)
    person.start()
    try:
        summary = run_experiment(config, progress=False)
    finally:
        stop.set()
        person.join(10)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["round"] == 0 and rows[0]["reward_model/n_train"] + rows[0]["reward_model/n_val"] >= 4
    if method == "pebble":  # people's first answers came after the 150 steps of seed + pre-training
        assert rows[0]["step"] >= 150
    assert summary.labels_used == 16
    assert summary.label_counts.get("first", 0) + summary.label_counts.get("second", 0) >= 4
    assert all(row.judgment.annotator == "human:sim" for row in PreferenceStore(run / "preferences.sqlite").judgments())
    assert json.loads((run / "status.json").read_text())["state"] == "done"
    # clips of asked segments are rendered in the background and indexed for the app
    deadline = time.monotonic() + 60
    index = run / "clips" / "index.jsonl"
    while time.monotonic() < deadline and not index.exists():
        time.sleep(0.5)
    lines = [json.loads(x) for x in index.read_text().splitlines()]
    assert lines and all((run / "clips" / line["file"]).stat().st_size > 0 for line in lines)
