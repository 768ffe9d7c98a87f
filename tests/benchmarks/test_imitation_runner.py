"""The imitation runner gives imitation's agent exactly the env-step budget (its own schedule trains 1.1×)."""

from __future__ import annotations

from types import ModuleType

import pytest


@pytest.mark.parametrize("steps", [204_800, 102_400, 40_960, 20_480, 2_048 * 7])
def test_step_targets_are_whole_rollouts_ending_on_the_budget(imitation_runner: ModuleType, steps: int) -> None:
    targets = imitation_runner.step_targets(steps, calls=11, rollout=2048)
    assert len(targets) == 11 and targets[-1] == steps
    assert all(t % 2048 == 0 for t in targets)
    assert targets == sorted(targets)
    chunks = [b - a for a, b in zip([0, *targets], targets)]
    assert max(chunks) - min(c for c in chunks if c) <= 2048  # as even as whole rollouts allow


def test_step_targets_name_bad_values(imitation_runner: ModuleType) -> None:
    with pytest.raises(ValueError, match="got 0, 11, 2048"):
        imitation_runner.step_targets(0, 11, 2048)
