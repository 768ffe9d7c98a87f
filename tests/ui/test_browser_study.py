"""A study in a real browser (issue 16): the instruction and the briefing come before the first pair; practice
pairs show their answer and never reach the preference store; a Hopper clip, rendered as the loop renders clips
for people, plays for at least ``labels.min_clip_seconds``. Chromium through Playwright, like test_browser.py."""

# ruff: noqa: F811  (the fixtures imported from test_browser.py are, by pytest's design, "redefined" as arguments)
from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rlhf_robotics.preference.records import Query
from rlhf_robotics.preference.rundir import RunPaths, write_instruction, write_status
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.ui import AppConfig, QueueConfig, serve_in_background

from .test_browser import browser, clip_dir, serve, wait_acked, wait_ready  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

INSTRUCTION = "The one-legged robot should hop forward quickly without falling over."


def test_instruction_and_briefing_come_before_the_first_pair(browser: Any, serve: Any) -> None:
    server, root = serve(briefing="# About this study\nYou will compare short robot videos.\n\n- about 10 minutes")
    write_instruction(root, INSTRUCTION)
    page = browser.new_page()
    page.goto(f"{server.url}?annotator=ann")
    page.wait_for_selector("#agree", state="visible")
    assert page.is_visible("#instruction") and INSTRUCTION in page.inner_text("#instruction")
    assert page.inner_text("#briefing h2") == "About this study"
    assert page.is_hidden("#pair"), "no pair before the annotator agrees"
    page.wait_for_timeout(500)
    assert page.evaluate("document.body.dataset.assignment || ''") == "", "nothing fetched before agreeing"
    assert server.service.queue.assignments == {}, "no pair leased before agreeing"
    page.click("#agree")
    wait_ready(page)
    assert page.is_hidden("#briefing") and page.is_visible("#pair") and page.is_visible("#instruction")
    assert page.evaluate("document.querySelector('#instruction').getBoundingClientRect().bottom"
                         " <= document.querySelector('#stage').getBoundingClientRect().top"), "shown above the clips"
    page.reload()
    wait_ready(page)  # agreed once: the reload goes straight to the pairs
    assert page.query_selector("#briefing") is None
    page.close()


def test_practice_pairs_show_the_answer_and_never_reach_the_store(browser: Any, serve: Any) -> None:
    server, root = serve(queue=QueueConfig(gold_rate=0, repeat_rate=0, practice_pairs=2))
    page = browser.new_page()
    page.goto(f"{server.url}?annotator=ann")
    current = wait_ready(page)
    for n in range(2):
        assert page.is_visible("#practice"), f"practice pair {n + 1} is announced"
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("['correct', 'wrong'].includes(document.body.dataset.feedback)", timeout=15000)
        text = page.inner_text("#feedback-text")
        assert ("Correct" in text) == (page.evaluate("document.body.dataset.feedback") == "correct")
        assert "clip was the better one" in text
        page.keyboard.press("Enter")
        current = wait_ready(page, after=current)
    assert page.is_hidden("#practice") and page.is_hidden("#feedback")
    page.keyboard.press("ArrowRight")  # the first pair that counts
    wait_acked(page, 1)
    page.close()
    kept = server.service.queue.practice_answers("ann")
    assert len(kept) == 2 and all(row["answer"] == row["expected"] or not row["correct"] for row in kept)
    with PreferenceStore(RunPaths(root).store) as store:
        rows = store.judgments()
    practised = {row["query_id"] for row in kept}
    assert len(rows) == 1 and rows[0].judgment.query_id not in practised, "only the counted answer is a judgment"


@pytest.mark.render
def test_a_hopper_clip_lasts_at_least_the_minimum_duration(browser: Any, tmp_path: Path) -> None:
    from rlhf_robotics.robotics.config import EnvConfig, LabelsConfig
    from rlhf_robotics.robotics.render_pool import clip_config
    from rlhf_robotics.robotics.rendering import render_segment
    from rlhf_robotics.robotics.segments import Segments

    # Hopper's segments as the loop cuts them: 60 steps of 8 ms = 0.48 s, far too short to judge at real time.
    env = gym.make("Hopper-v5", terminate_when_unhealthy=False)
    qpos, qvel = [], []
    for seed in (0, 1):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        for _ in range(60):
            env.step(env.action_space.sample())
            qpos.append(env.unwrapped.data.qpos.copy())  # type: ignore[attr-defined]
            qvel.append(env.unwrapped.data.qvel.copy())  # type: ignore[attr-defined]
    dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
    env.close()
    n, nq, nv = 2, len(qpos[0]), len(qvel[0])
    segs = Segments(ids=["hop-0", "hop-1"], obs=np.zeros((n, 60, 1), np.float32), act=np.zeros((n, 60, 1), np.float32),
                    reward=np.zeros((n, 60), np.float32), qpos=np.array(qpos).reshape(n, 60, nq),
                    qvel=np.array(qvel).reshape(n, 60, nv), env_id="Hopper-v5", dt=dt)
    hopper = EnvConfig(id="Hopper-v5", clip_width=320, clip_height=320, camera_distance=2.5, camera_height=0.8,
                       camera_elevation=-10)  # conf/env/hopper.yaml's settings
    minimum = LabelsConfig().min_clip_seconds
    root = tmp_path / "run"
    paths = RunPaths(root)
    paths.clips.mkdir(parents=True)
    render = clip_config(hopper, minimum)
    for row in range(n):
        render_segment(segs, row, paths.clips, render)  # registers the clip with its rate in clips/index.jsonl
    with PreferenceStore(paths.store) as store:
        store.add_queries([Query("hop-0", "hop-1", selector="uniform")])
    write_status(root, "labelling", "round 0")
    with serve_in_background(root, config=AppConfig(min_watch_s=0, queue=QueueConfig(gold_rate=0, repeat_rate=0))) as server:
        page = browser.new_page()
        page.goto(f"{server.url}?annotator=ann")
        wait_ready(page)
        # the speed the page plays at (the person's choice, 1× by default; the slave video's own playbackRate is
        # nudged by a few per cent to stay in sync with the master, so it is not the speed)
        played = page.evaluate("Array.from(document.querySelectorAll('#stage video')).map(v => ({duration: v.duration,"
                               " rate: window.labelApp.rate, w: v.videoWidth, h: v.videoHeight}))")
        assert len(played) == 2
        for video in played:
            assert video["duration"] / video["rate"] >= minimum - 1e-3, f"{video} plays shorter than {minimum} s"
            assert (video["w"], video["h"]) == (320, 320)
        assert page.is_visible("#slowed") and "0.32× real time" in page.inner_text("#slowed")
        page.screenshot(path=str(tmp_path / "hopper_pair.png"))
        page.close()
