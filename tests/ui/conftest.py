"""Fixtures of the labelling-app tests: a run directory with a store, queries, clips and a status file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rlhf_robotics.preference.records import Query
from rlhf_robotics.preference.rundir import RunPaths, register_clip, write_status
from rlhf_robotics.preference.store import PreferenceStore


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x suggests httpx2 for its TestClient; httpx is what the dev extra installs and it works.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


def make_clip(path: Path, seed: int, frames: int = 30, fps: int = 30, size: int = 64) -> None:
    """An H.264 MP4 Chromium plays: a coloured square whose position encodes the frame number."""
    import imageio.v2 as imageio

    rng = np.random.default_rng(seed)
    colour = rng.integers(60, 255, size=3, dtype=np.uint8)
    with imageio.get_writer(path, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=16,
                            output_params=["-g", "1"]) as writer:  # all keyframes: exact, fast seeks in tests
        for t in range(frames):
            frame = np.zeros((size, size, 3), dtype=np.uint8)
            x = int((size - 16) * t / max(frames - 1, 1))
            frame[24:40, x : x + 16] = colour
            writer.append_data(frame)


def build_run(
    root: Path,
    n_queries: int = 6,
    *,
    real_clips: bool = False,
    clip_dir: Path | None = None,
    texts: bool = False,
    with_clips: bool = True,
    returns: bool = True,
    priorities: list[float] | None = None,
) -> list[int]:
    """Fill ``root`` like a running loop does; returns the query ids.

    ``clip_dir`` holds 12 real clips (``clip000.mp4`` …) to copy instead of making them.
    Items are ``seg-0 … seg-(2n-1)``; query k compares ``seg-2k`` with ``seg-2k+1``; item i has true return i.
    """
    paths = RunPaths(root)
    paths.clips.mkdir(parents=True, exist_ok=True)
    queries = []
    for k in range(n_queries):
        a, b = f"seg-{2 * k}", f"seg-{2 * k + 1}"
        meta: dict[str, object] = {"round": 0}
        if returns:
            meta.update(true_return_first=float(2 * k), true_return_second=float(2 * k + 1))
        if texts:
            meta["texts"] = {"prompt": f"What is {k} + {k}?", "first": f"{2 * k}", "second": f"{2 * k + 1}"}
        priority = priorities[k] if priorities else float(n_queries - k)
        queries.append(Query(a, b, selector="disagreement", score=1.0, priority=priority, meta=meta))
    with PreferenceStore(paths.store) as store:
        ids = store.add_queries(queries)
    if with_clips and not texts:
        for i in range(2 * n_queries):
            name = f"clip{i:03d}.mp4"
            if clip_dir is not None:
                shutil.copyfile(clip_dir / f"clip{i % 12:03d}.mp4", paths.clips / name)
            elif real_clips:
                make_clip(paths.clips / name, seed=i)
            else:
                (paths.clips / name).write_bytes(bytes(range(256)) * 40)
            register_clip(root, f"seg-{i}", name)
    write_status(root, "labelling", "labelling round 0", round=0)
    return ids


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    root.mkdir()
    build_run(root)
    return root


@pytest.fixture
def judgments_of() -> Callable[[Path], list]:
    def read(root: Path) -> list:
        with PreferenceStore(RunPaths(root).store) as store:
            return store.judgments()

    return read


def dump(obj: object) -> str:
    return json.dumps(obj)
