"""CI runs the browser tests rather than skipping them: with ``CI=true`` (``.ci/run`` exports it) a missing
Chromium is a failure; locally, without CI, it is a skip that says why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
ONE_BROWSER_TEST = "tests/ui/test_browser.py::test_tie_cant_tell_and_skip_keys"


def _pytest_without_chromium(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CHROMIUM_PATH"] = "/nonexistent/chromium"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", ONE_BROWSER_TEST, "-m", "slow", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_missing_chromium_fails_under_ci_and_skips_locally() -> None:
    ci = _pytest_without_chromium("true")
    assert ci.returncode != 0, ci.stdout[-2000:]
    assert "Chromium is not installed at /nonexistent/chromium" in ci.stdout and "1 error" in ci.stdout, ci.stdout[-2000:]
    local = _pytest_without_chromium(None)
    assert local.returncode == 0, local.stdout[-2000:]
    assert "1 skipped" in local.stdout and "CI is not 'true'" in local.stdout, local.stdout[-2000:]


def test_ci_script_sets_ci_before_running_the_tests() -> None:
    lines = (ROOT / ".ci/run").read_text().splitlines()
    export = lines.index("export CI=true")
    pytest_line = next(i for i, line in enumerate(lines) if "-m pytest" in line and not line.startswith("#"))
    assert export < pytest_line
