"""Synthetic tasks with generators, exact verifiers, partial-credit rubrics and a hidden gold score.

Every task turns a seeded ``numpy.random.Generator`` into :class:`Problem` s, judges a response exactly
(:meth:`Task.verify`), gives partial credit through a :class:`rlhf_robotics.preference.Rubric` whose criteria
see ``(problem, response)``, and has a hidden *gold* score — ``0.8 · rubric + 0.2 · style`` in [0, 1] — that
plays the role the true objective plays in robotics: teachers see it, training never does directly.

=================  ===========================  =================  ==================  =========================
task               prompt                       reference answer   verbose (accepted)  style term (hidden)
=================  ===========================  =================  ==================  =========================
``arithmetic``     ``47+85=``                   ``132``            ``007`` for 7       plain number, no longer
``arith_steps``    ``47+385:``                  ``12,13,4|432``    sum zero-padded     plain sum, no longer
``sorting``        ``sort 3 9 1:``              ``1 3 9``          ``1,3,9``           spaces, no longer
``constrained``    ``word 5 b e:``              ``bilce``          —                   letters alternate c/v
=================  ===========================  =================  ==================  =========================

``arith_steps`` writes the column sums right to left (digit + digit + carry) before ``|`` and the answer;
its :meth:`Task.step_rewards` scores every step, which is what GRPO's process supervision reads.

**Difficulty** (issue 14): every task takes one integer, set per task by ``difficulty: {task: value}``
(:data:`DIFFICULTY` holds the meaning, default and allowed range of each).

**Hidden style beyond correctness** (issue 14): demonstrators and the corpus write a share of their correct
answers in a *verbose* form (:meth:`Task.verbose`) that the verifier accepts too — sums zero-padded to the
width of the longest possible sum (``047``), sorted lists separated by ``,`` instead of spaces. The gold score's
style term prefers the plain form, so exact match (the verifier) can be perfect while gold is not: only the
preference-driven stages (reward model, PPO, DPO, best-of-n) see the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_robotics.preference import Criterion, Rubric

VOWELS = "aeiou"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"
GOLD_STYLE_WEIGHT = 0.2
"""Share of the hidden style term in the gold score."""


@dataclass(frozen=True)
class Difficulty:
    """What a task's difficulty integer means, its default and its allowed range."""

    meaning: str
    """The knob, in words."""
    default: int
    """Used when ``difficulty`` does not name the task."""
    low: int
    """Smallest allowed value."""
    high: int
    """Largest allowed value (longer answers need a model with a larger ``block_size``)."""


DIFFICULTY: dict[str, Difficulty] = {
    "arithmetic": Difficulty("most digits per operand", 2, 1, 6),
    "arith_steps": Difficulty("most digits per operand", 2, 1, 5),
    "sorting": Difficulty("longest list", 6, 3, 12),
    "constrained": Difficulty("longest word", 6, 3, 12),
}
"""Task name → its difficulty knob (issue 14); the defaults leave the SFT model well below the verifier's ceiling."""


def check_difficulty(task: str, value: int) -> None:
    """Raise a ``ValueError`` naming ``difficulty.<task>``, the value and the allowed range if it is out of range."""
    spec = DIFFICULTY[task]
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        raise ValueError(f"difficulty.{task}={value!r}: the {spec.meaning} must be a whole number in "
                         f"[{spec.low}, {spec.high}] (default {spec.default})")


def check_tasks(tasks: Sequence[str], difficulty: Mapping[str, int] | None = None) -> None:
    """Validate task names and difficulties before any work; each message names the key, value and what is allowed.

    Raises:
        ValueError: no task, an unknown task, a difficulty for an unknown task, or a difficulty out of range.
    """
    if not tasks:
        raise ValueError("tasks is empty; name at least one of " + ", ".join(TASKS))
    for name in tasks:
        if name not in TASKS:
            raise ValueError(f"tasks: unknown task {name!r} in {list(tasks)}; allowed: {', '.join(TASKS)}")
    for name, value in (difficulty or {}).items():
        if name not in TASKS:
            raise ValueError(f"difficulty.{name}: unknown task {name!r}; allowed keys: {', '.join(TASKS)}")
        check_difficulty(name, value)


@dataclass(frozen=True)
class Problem:
    """One prompt of one task, with a reference answer and what the verifier needs."""

    task: str
    """Name of the task in :data:`TASKS`."""
    prompt: str
    """Text the model is given."""
    answer: str
    """A reference response (the SFT demonstration); the verifier may accept others."""
    data: dict[str, Any] = field(default_factory=dict)
    """Task-specific facts (operands, constraints)."""


def _digit_credit(reference: str, response: str) -> float:
    """Share of the reference's digits matched right-aligned (units against units), in [0, 1]."""
    if not reference:
        return 0.0
    hits = sum(1 for a, b in zip(reversed(reference), reversed(response), strict=False) if a == b)
    return hits / max(len(reference), len(response))


def _concise(reference: str, response: str) -> float:
    return 1.0 if 0 < len(response) <= len(reference) else 0.0


class Task:
    """A task: generator, verifier, rubric, gold score and (optionally) step rewards. Subclasses fill in."""

    name: str = ""

    def __init__(self) -> None:
        self.rubric = Rubric(self.criteria())

    # -- to be provided --------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Problem:
        raise NotImplementedError

    def verify(self, problem: Problem, response: str) -> bool:
        """Exact verifier: is ``response`` a correct answer to ``problem``?"""
        raise NotImplementedError

    def criteria(self) -> list[Criterion]:
        """The rubric's criteria; each maps ``(problem, response)`` to [0, 1]; weights sum to 1."""
        raise NotImplementedError

    def style(self, problem: Problem, response: str) -> float:
        """The hidden style term in [0, 1]."""
        return _concise(problem.answer, response)

    def step_rewards(self, problem: Problem, response: str) -> list[tuple[int, float]]:
        """``(index of the step's last character in response, reward)`` per written step (process supervision).

        Tasks without intermediate steps have one step: the whole response, rewarded by the verifier.
        """
        return [(max(len(response) - 1, 0), float(self.verify(problem, response)))]

    # -- shared ----------------------------------------------------------------------------------------
    def gold(self, problem: Problem, response: str) -> float:
        """Hidden gold score in [0, 1]: ``(1 − w) · rubric + w · style``, ``w`` = :data:`GOLD_STYLE_WEIGHT`."""
        rubric = self.rubric.score((problem, response))
        return (1 - GOLD_STYLE_WEIGHT) * rubric + GOLD_STYLE_WEIGHT * self.style(problem, response)

    def corpus_line(self, problem: Problem, rng: np.random.Generator, noise: float, verbose: float = 0.0) -> str:
        """A pretraining line: prompt + :meth:`demonstration` (web text: mistakes and verbose answers mixed in)."""
        return problem.prompt + self.demonstration(problem, rng, noise, verbose)

    def verbose(self, problem: Problem) -> str:
        """A correct answer in the demonstrators' verbose habit, which the hidden style dislikes (default: none)."""
        return problem.answer

    def demonstration(self, problem: Problem, rng: np.random.Generator, noise: float, verbose: float) -> str:
        """A demonstrator's answer: the typical mistake with probability ``noise``, else a correct answer, verbose
        with probability ``verbose``."""
        if rng.random() < noise:
            return self.mistake(problem, rng)
        return self.verbose(problem) if verbose > 0 and rng.random() < verbose else problem.answer

    def mistake(self, problem: Problem, rng: np.random.Generator) -> str:
        """A wrong answer of the kind people write; by default one character replaced at random."""
        answer = problem.answer
        if not answer:
            return answer
        i = int(rng.integers(len(answer)))
        pool = "0123456789" if answer[i].isdigit() else "abcdefghijklmnopqrstuvwxyz"
        return answer[:i] + pool[int(rng.integers(len(pool)))] + answer[i + 1 :]


def _plain_number(text: str) -> bool:
    return text.isdigit() and (text == "0" or text[0] != "0")


class Arithmetic(Task):
    """Addition of two non-negative integers of up to ``digits`` digits: ``47+385=`` → ``432``.

    The verifier accepts the sum with leading zeros too (``0432``); the verbose demonstrators pad it to
    ``digits + 1`` characters, and the hidden style wants the plain number.
    """

    name = "arithmetic"

    def __init__(self, digits: int = 2) -> None:
        check_difficulty(self.name, digits)
        self.digits = digits
        super().__init__()

    def sample(self, rng: np.random.Generator) -> Problem:
        a, b = (int(rng.integers(10 ** int(rng.integers(1, self.digits + 1)))) for _ in range(2))
        return Problem(self.name, f"{a}+{b}=", str(a + b), {"a": a, "b": b})

    def _sum_ok(self, problem: Problem, text: str) -> bool:
        return text.isdigit() and int(text) == problem.data["a"] + problem.data["b"]

    def verify(self, problem: Problem, response: str) -> bool:
        return self._sum_ok(problem, response)

    def verbose(self, problem: Problem) -> str:
        return str(problem.data["a"] + problem.data["b"]).zfill(self.digits + 1)

    def style(self, problem: Problem, response: str) -> float:
        return float(_plain_number(response) and _concise(problem.answer, response))

    def mistake(self, problem: Problem, rng: np.random.Generator) -> str:
        """The classic slip: every carry forgotten (column sums mod 10), e.g. ``47+85`` → ``22``."""
        a, b = str(problem.data["a"])[::-1], str(problem.data["b"])[::-1]
        cols = [(int(a[i]) if i < len(a) else 0) + (int(b[i]) if i < len(b) else 0) for i in range(max(len(a), len(b)))]
        return str(int("".join(str(c % 10) for c in reversed(cols))))

    def criteria(self) -> list[Criterion]:
        return [
            Criterion("correct", lambda it: float(self.verify(*it)), 0.5, "Is the sum right?"),
            Criterion("digits", lambda it: _digit_credit(it[0].answer, it[1]), 0.3, "How many digits are right?"),
            Criterion("format", lambda it: float(_plain_number(it[1])), 0.2, "Is it a plain number?"),
        ]


class ArithmeticSteps(Arithmetic):
    """Addition with written column sums: ``47+385:`` → ``12,13,4|432`` (7+5, 4+8+1, 0+3+1)."""

    name = "arith_steps"

    def sample(self, rng: np.random.Generator) -> Problem:
        a, b = (int(rng.integers(10 ** int(rng.integers(1, self.digits + 1)))) for _ in range(2))
        steps = self.column_sums(a, b)
        return Problem(self.name, f"{a}+{b}:", ",".join(map(str, steps)) + f"|{a + b}", {"a": a, "b": b})

    @staticmethod
    def column_sums(a: int, b: int) -> list[int]:
        """Digit + digit + carry per column, units first, over the longer operand's digits."""
        da, db = str(a)[::-1], str(b)[::-1]
        sums, carry = [], 0
        for i in range(max(len(da), len(db))):
            s = int(da[i]) if i < len(da) else 0
            s += (int(db[i]) if i < len(db) else 0) + carry
            sums.append(s)
            carry = s // 10
        return sums

    def verify(self, problem: Problem, response: str) -> bool:
        return "|" in response and self._sum_ok(problem, response.rsplit("|", 1)[-1])

    def verbose(self, problem: Problem) -> str:
        head, _, _ = problem.answer.partition("|")
        return head + "|" + super().verbose(problem)

    def style(self, problem: Problem, response: str) -> float:
        return float(_plain_number(response.rsplit("|", 1)[-1]) and _concise(problem.answer, response))

    def mistake(self, problem: Problem, rng: np.random.Generator) -> str:
        """Every carry forgotten, in the steps and the sum: ``47+385:`` → ``12,12,3|322``."""
        da, db = str(problem.data["a"])[::-1], str(problem.data["b"])[::-1]
        cols = [(int(da[i]) if i < len(da) else 0) + (int(db[i]) if i < len(db) else 0)
                for i in range(max(len(da), len(db)))]
        return ",".join(map(str, cols)) + "|" + str(int("".join(str(c % 10) for c in reversed(cols))))

    def _steps_right(self, problem: Problem, response: str) -> float:
        want = problem.answer.split("|")[0].split(",")
        got = response.split("|")[0].split(",")
        return sum(1 for w, g in zip(want, got, strict=False) if w == g) / max(len(want), len(got))

    def criteria(self) -> list[Criterion]:
        total = lambda it: str(it[0].data["a"] + it[0].data["b"])  # noqa: E731
        return [
            Criterion("correct", lambda it: float(self.verify(*it)), 0.5, "Is the final sum right?"),
            Criterion("steps", lambda it: self._steps_right(*it), 0.3, "How many column sums are right?"),
            Criterion("digits", lambda it: _digit_credit(total(it), it[1].rsplit("|", 1)[-1]), 0.2,
                      "How many digits of the sum are right?"),
        ]

    def step_rewards(self, problem: Problem, response: str) -> list[tuple[int, float]]:
        """One reward per written column sum (1 if it matches the reference column), then the final answer."""
        want = problem.answer.split("|")[0].split(",")
        out, pos = [], 0
        head, bar, _ = response.partition("|")
        for i, step in enumerate(head.split(",")):
            end = pos + len(step)  # index of the comma / bar after the step
            out.append((min(end, len(response) - 1), float(i < len(want) and step == want[i])))
            pos = end + 1
        if bar:
            out.append((len(response) - 1, float(self.verify(problem, response))))
        return [(max(i, 0), r) for i, r in out]


class Sorting(Task):
    """Sort a list of 3–``max_len`` single digits ascending: ``sort 3 9 1:`` → ``1 3 9``.

    The verifier accepts ``,`` as the separator too (``1,3,9``), the verbose demonstrators' habit; the hidden
    style wants spaces. The typical mistake sorts all but the last number and leaves it at the end.
    """

    name = "sorting"

    def __init__(self, max_len: int = 6) -> None:
        check_difficulty(self.name, max_len)
        self.max_len = max_len
        super().__init__()

    def sample(self, rng: np.random.Generator) -> Problem:
        xs = [int(x) for x in rng.integers(10, size=int(rng.integers(3, self.max_len + 1)))]
        return Problem(self.name, "sort " + " ".join(map(str, xs)) + ":", " ".join(map(str, sorted(xs))), {"xs": xs})

    def verify(self, problem: Problem, response: str) -> bool:
        return response in (problem.answer, self.verbose(problem))

    def verbose(self, problem: Problem) -> str:
        return problem.answer.replace(" ", ",")

    def style(self, problem: Problem, response: str) -> float:
        return float("," not in response and _concise(problem.answer, response))

    def mistake(self, problem: Problem, rng: np.random.Generator) -> str:
        """The last number left where it was: ``sort 3 9 1:`` → ``3 9 1``."""
        xs = problem.data["xs"]
        return " ".join(map(str, [*sorted(xs[:-1]), xs[-1]]))

    @staticmethod
    def _tokens(response: str) -> list[str]:
        return response.replace(",", " ").split(" ")

    def _permutation(self, problem: Problem, response: str) -> float:
        return float(sorted(self._tokens(response)) == sorted(map(str, problem.data["xs"])))

    def _ordered(self, problem: Problem, response: str) -> float:
        toks = self._tokens(response)
        if len(toks) < 2:
            return 0.0
        return sum(1 for a, b in zip(toks, toks[1:], strict=False) if a <= b) / (len(toks) - 1)

    def criteria(self) -> list[Criterion]:
        return [
            Criterion("correct", lambda it: float(self.verify(*it)), 0.5, "Is the list sorted correctly?"),
            Criterion("permutation", lambda it: self._permutation(*it), 0.3, "Are exactly the given digits used?"),
            Criterion("ordered", lambda it: self._ordered(*it), 0.2, "How many neighbours are in order?"),
        ]


class Constrained(Task):
    """Write a lower-case word of a given length, first and last letter: ``word 5 b e:`` → ``bilce``.

    Any such word is correct; the reference answers are random letters, while the hidden style prefers words
    whose letters alternate consonant/vowel — something only the preferences can teach.
    """

    name = "constrained"

    def __init__(self, max_len: int = 6, min_len: int = 3) -> None:
        check_difficulty(self.name, max_len)
        if not 2 <= min_len <= max_len:
            raise ValueError(f"need 2 <= min_len <= max_len, got {min_len}, {max_len}")
        self.min_len, self.max_len = min_len, max_len
        super().__init__()

    def sample(self, rng: np.random.Generator) -> Problem:
        n = int(rng.integers(self.min_len, self.max_len + 1))
        letters = "abcdefghijklmnopqrstuvwxyz"
        word = "".join(letters[int(i)] for i in rng.integers(26, size=n))
        return Problem(self.name, f"word {n} {word[0]} {word[-1]}:", word, {"n": n, "first": word[0], "last": word[-1]})

    def _checks(self, problem: Problem, response: str) -> tuple[bool, bool, bool, bool]:
        d = problem.data
        return (response.isalpha() and response.islower(), len(response) == d["n"],
                response[:1] == d["first"], response[-1:] == d["last"])

    def verify(self, problem: Problem, response: str) -> bool:
        return all(self._checks(problem, response))

    def criteria(self) -> list[Criterion]:
        return [
            Criterion("correct", lambda it: float(self.verify(*it)), 0.5, "Does the word meet every constraint?"),
            Criterion("constraints", lambda it: sum(self._checks(*it)) / 4, 0.5, "How many constraints are met?"),
        ]

    def style(self, problem: Problem, response: str) -> float:
        if len(response) < 2:
            return 0.0
        kinds = [c in VOWELS for c in response]
        return sum(1 for a, b in zip(kinds, kinds[1:], strict=False) if a != b) / (len(kinds) - 1)


TASKS: dict[str, Callable[[int], Task]] = {
    "arithmetic": Arithmetic,
    "arith_steps": ArithmeticSteps,
    "sorting": Sorting,
    "constrained": Constrained,
}
"""Task name → constructor taking the task's difficulty."""


def build_task(name: str, difficulty: int | None = None) -> Task:
    """The named task at ``difficulty`` (None: its default in :data:`DIFFICULTY`).

    Raises:
        ValueError: ``name`` is not in :data:`TASKS`, or ``difficulty`` is out of its range.
    """
    check_tasks((name,), {} if difficulty is None else {name: difficulty})
    return TASKS[name](DIFFICULTY[name].default if difficulty is None else difficulty)


class TaskMix:
    """Uniform mixture of tasks with a held-out evaluation set that training never samples.

    Args:
        names: task names.
        n_eval: held-out prompts per task.
        eval_seed: seed of the held-out set (the same for every stage, so every stage is scored alike).
        difficulty: task name → difficulty (:data:`DIFFICULTY`); tasks not named take their default.
    """

    def __init__(self, names: Sequence[str], n_eval: int = 200, eval_seed: int = 12345,
                 difficulty: Mapping[str, int] | None = None) -> None:
        check_tasks(names, difficulty)
        difficulty = difficulty or {}
        self.tasks = {n: build_task(n, difficulty.get(n)) for n in names}
        rng = np.random.default_rng(eval_seed)
        self.eval: dict[str, list[Problem]] = {}
        seen: set[str] = set()
        for name, task in self.tasks.items():
            problems: list[Problem] = []
            for _ in range(50 * n_eval):
                if len(problems) == n_eval:
                    break
                p = task.sample(rng)
                if p.prompt not in seen:
                    seen.add(p.prompt)
                    problems.append(p)
            self.eval[name] = problems
        self._held_out = seen

    def task(self, problem: Problem) -> Task:
        return self.tasks[problem.task]

    def sample(self, rng: np.random.Generator, n: int) -> list[Problem]:
        """``n`` training problems, tasks drawn uniformly, none from the held-out set."""
        names = list(self.tasks)
        out: list[Problem] = []
        while len(out) < n:
            p = self.tasks[names[int(rng.integers(len(names)))]].sample(rng)
            if p.prompt not in self._held_out:
                out.append(p)
        return out

    def gold(self, problem: Problem, response: str) -> float:
        return self.task(problem).gold(problem, response)

    def verify(self, problem: Problem, response: str) -> bool:
        return self.task(problem).verify(problem, response)
