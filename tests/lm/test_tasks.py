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


def test_verbose_answers_are_correct_but_lose_the_hidden_style() -> None:
    """Issue 14: exact match accepts the verbose form; the gold score is what prefers the plain one."""
    cases = {
        "arithmetic": (Problem("arithmetic", "7+8=", "15", {"a": 7, "b": 8}), "015"),
        "arith_steps": (Problem("arith_steps", "7+8:", "15|15", {"a": 7, "b": 8}), "15|015"),
        "sorting": (Problem("sorting", "sort 3 9 1:", "1 3 9", {"xs": [3, 9, 1]}), "1,3,9"),
    }
    for name, (p, verbose) in cases.items():
        task = build_task(name)
        assert task.verbose(p) == verbose
        assert task.verify(p, verbose) and task.verify(p, p.answer)
        assert task.style(p, verbose) == 0.0 and task.style(p, p.answer) == 1.0
        assert task.gold(p, verbose) < task.gold(p, p.answer) == pytest.approx(1.0)
        wrong = task.mistake(p, np.random.default_rng(0))
        assert not task.verify(p, wrong) and task.gold(p, wrong) < task.gold(p, verbose), (name, wrong)


def test_typical_mistakes_are_systematic() -> None:
    rng = np.random.default_rng(0)
    sorting = build_task("sorting")
    assert sorting.mistake(Problem("sorting", "", "1 3 9", {"xs": [3, 9, 1]}), rng) == "3 9 1"  # last left in place
    steps = build_task("arith_steps")
    assert steps.mistake(Problem("arith_steps", "", "12,13,4|432", {"a": 47, "b": 385}), rng) == "12,12,3|322"


def test_difficulty_sets_the_size_of_the_problems() -> None:
    rng = np.random.default_rng(0)
    for d in (3, 6):
        lengths = {len(build_task("sorting", d).sample(rng).data["xs"]) for _ in range(300)}
        assert lengths == set(range(3, d + 1))
        digits = {len(str(build_task("arithmetic", d).sample(rng).data["a"])) for _ in range(300)}
        assert max(digits) == d
    mix = TaskMix(["sorting"], n_eval=50, difficulty={"sorting": 4})
    assert max(len(p.data["xs"]) for p in mix.eval["sorting"]) == 4
