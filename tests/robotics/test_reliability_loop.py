"""labels.reliability=dawid_skene in a real loop: people of different reliability answer the same pairs, the loop
fits who is reliable each round, logs it under ``reliability/<annotator>`` and trains on weighted labels."""

from __future__ import annotations

import json
import random
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
    PPOConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import run_experiment


class People(threading.Thread):
    """Two careful people and a random responder answer every open query in the store."""

    ERRORS = {"human:careful1": 0.0, "human:careful2": 0.0, "human:coin": 0.5}

    def __init__(self, store_path: Path, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.store_path, self.stop_event, self.rng = store_path, stop, random.Random(0)

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
                right = "first" if m["true_return_first"] >= m["true_return_second"] else "second"
                wrong = "second" if right == "first" else "first"
                for name, error in self.ERRORS.items():
                    label = self.rng.choice([right, wrong]) if error else right
                    store.add_judgment(Judgment(sq.id, label, name, shown_left="first", seconds=0.1))  # type: ignore[arg-type]
                done.add(sq.id)
            time.sleep(0.05)
        store.close()


@pytest.mark.slow
@pytest.mark.render
def test_loop_fits_and_logs_who_is_reliable(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = ExperimentConfig(
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=10),
        labels=LabelsConfig(total=24, rounds=2, initial_steps=200, buffer_steps=400, source="human", human_min_initial=6,
                            human_timeout_s=120, reliability="dawid_skene"),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=5)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        total_steps=256, run_dir=str(run), baseline=False, eval_episodes=1, video=False,
    )
    stop = threading.Event()
    people = People(run / "preferences.sqlite", stop)
    people.start()
    try:
        run_experiment(config, progress=False)
    finally:
        stop.set()
        people.join(10)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "reliability/human:coin" in r][-1]
    assert last["reliability/human:coin"] < 0.75 < min(last["reliability/human:careful1"], last["reliability/human:careful2"])
