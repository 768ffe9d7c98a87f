from __future__ import annotations

import numpy as np
import pytest

from rlhf_robotics.lm.tasks import TASKS, ArithmeticSteps, Problem, TaskMix, build_task


def test_arithmetic_verifier_rubric_and_mistake() -> None:
    t = build_task("arithmetic")
    p = Problem("arithmetic", "47+85=", "132", {"a": 47, "b": 85})
    assert t.verify(p, "132") and not t.verify(p, "122")
    assert t.mistake(p, np.random.default_rng(0)) == "22"  # 7+5 → 2, 4+8 → 2, carries forgotten
    assert t.gold(p, "132") == pytest.approx(1.0)
    assert 0 < t.gold(p, "122") < 1


def test_steps_and_process_rewards() -> None:
    assert ArithmeticSteps.column_sums(47, 385) == [12, 13, 4]
    t = build_task("arith_steps")
    p = Problem("arith_steps", "47+385:", "12,13,4|432", {"a": 47, "b": 385})
    assert t.verify(p, "12,13,4|432")
    assert [r for _, r in t.step_rewards(p, "12,13,4|432")] == [1.0, 1.0, 1.0, 1.0]
    steps = t.step_rewards(p, "12,11,4|422")
    assert [r for _, r in steps] == [1.0, 0.0, 1.0, 0.0]
    assert [i for i, _ in steps] == [2, 5, 7, 10]  # each step's last character (the comma / bar after it)


def test_every_task_samples_verifies_its_reference_and_scores_in_unit_range() -> None:
    rng = np.random.default_rng(0)
    for name in TASKS:
        task = build_task(name)
        for _ in range(20):
            p = task.sample(rng)
            assert task.verify(p, p.answer), (name, p)
            assert task.gold(p, p.answer) >= 0.8
            for bad in ("", "zz", p.answer + "9"):
                assert 0.0 <= task.gold(p, bad) <= 1.0


def test_training_never_samples_held_out_prompts() -> None:
    mix = TaskMix(["arithmetic"], n_eval=300)
    held = {p.prompt for p in mix.eval["arithmetic"]}
    assert len(held) == 300
    assert not held & {p.prompt for p in mix.sample(np.random.default_rng(1), 2000)}
