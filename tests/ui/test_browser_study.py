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


HOPPER = {"clip_width": 320, "clip_height": 320, "camera_distance": 2.5, "camera_height": 0.8,
          "camera_elevation": -10}
"""conf/env/hopper.yaml's clip settings."""


def hopper_run(root: Path, context: bool) -> float:
    """A run directory with one Hopper pair whose clips are rendered as the loop renders them for people (with
    the episode's context around each 60-step segment, or slowed down); returns the minimum duration."""
    from rlhf_robotics.robotics.buffer import TransitionBuffer
    from rlhf_robotics.robotics.clip_context import clip_context
    from rlhf_robotics.robotics.config import EnvConfig, LabelsConfig
    from rlhf_robotics.robotics.render_pool import ClipPool, clip_config

    env = gym.make("Hopper-v5", terminate_when_unhealthy=False)
    env.reset(seed=0)
    env.action_space.seed(0)
    buf = TransitionBuffer(1, capacity=400, obs_dim=1, act_dim=1, nq=6, nv=6, term_keys=[])
    for _ in range(400):
        data = env.unwrapped.data  # type: ignore[attr-defined]
        buf.add(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), data.qpos[None].copy(), data.qvel[None].copy(),
                [{}], np.array([False]))
        env.step(env.action_space.sample())
    dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
    env.close()
    # Hopper's segments as the loop cuts them: 60 steps of 8 ms = 0.48 s, far too short to judge at real time.
    segs = buf.sample_segments(2, 60, np.random.default_rng(0), "hop", "Hopper-v5", dt)
    labels = LabelsConfig(clip_context_seconds=1.0 if context else 0.0)
    paths = RunPaths(root)
    with ClipPool(paths.clips, clip_config(EnvConfig(id="Hopper-v5", **HOPPER), labels.min_clip_seconds), 1) as pool:
        ctx = clip_context(buf, segs, labels.min_clip_seconds, labels.clip_context_seconds)
        for future in pool.request(segs, context=ctx).values():
            future.result(timeout=300)
    with PreferenceStore(paths.store) as store:
        store.add_queries([Query(segs.ids[0], segs.ids[1], selector="uniform")])
    write_status(root, "labelling", "round 0")
    return labels.min_clip_seconds


@pytest.mark.render
@pytest.mark.parametrize("context", [True, False], ids=["context", "slowed"])
def test_a_hopper_clip_lasts_at_least_the_minimum_duration(browser: Any, tmp_path: Path, context: bool) -> None:
    root = tmp_path / "run"
    minimum = hopper_run(root, context)
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
        if context:  # real time, with the scored 0.48 s marked on the timeline
            assert page.is_hidden("#slowed") and page.is_visible("#scored")
            assert page.evaluate("document.body.dataset.scored") == "0.512,0.992"
            assert "judge the highlighted part: 0.51–0.99 s" in page.inner_text("#scored")
            assert "linear-gradient" in page.evaluate("document.querySelector('#scrub').style.background")
        else:
            assert page.is_visible("#slowed") and "0.32× real time" in page.inner_text("#slowed")
            assert page.is_hidden("#scored")
        page.screenshot(path=str(tmp_path / "hopper_pair.png"))
        page.close()
