"""Background clip rendering: a pool of worker processes that renders only the segments asked for, ahead of the
moment a person needs them, each once (content-addressed names, in-flight requests shared).

    with ClipPool("videos/clips", RenderConfig(preset="fast"), workers=2) as pool:
        futures = pool.request(segments)            # or pool.request_ids(store, ["run-0", "run-1"])
        paths = {sid: f.result() for sid, f in futures.items()}

Workers are started with the ``spawn`` method (a forked EGL context is not safe) and keep one renderer per task
for their lifetime. When a clip is done, its worker appends ``{"item", "file"}`` to ``<clips_dir>/index.jsonl``.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_robotics.robotics.clip_context import ClipContext
from rlhf_robotics.robotics.config import EnvConfig
from rlhf_robotics.robotics.rendering import RenderConfig, add_to_index, clip_fps, clip_name, playback_rate
from rlhf_robotics.robotics.segments import Segments, SegmentStore
from rlhf_robotics.robotics.start_method import starting_workers


def clip_config(env: EnvConfig, min_seconds: float | None) -> RenderConfig:
    """How the clips shown to people look: the task's frame size and camera (``env.clip_*``, ``env.camera_*``),
    slowed down to last at least ``min_seconds`` (``labels.min_clip_seconds``)."""
    return RenderConfig(width=env.clip_width, height=env.clip_height, min_seconds=min_seconds,
                        camera_distance=env.camera_distance, camera_height=env.camera_height,
                        camera_elevation=env.camera_elevation)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also for workers started outside the main thread
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency, but rendering does not need it
        pass


def _render_job(
    env_id: str, qpos: np.ndarray, qvel: np.ndarray, dt: float, clips_dir: str, config: dict[str, Any],
    items: list[str], scored: tuple[int, int] | None = None, fixtures: np.ndarray | None = None,
) -> str:
    from rlhf_robotics.robotics.rendering import (
        RenderConfig,
        add_to_index,
        clip_fps,
        playback_rate,
        render_clip,
    )

    render = RenderConfig(**config)
    path = render_clip(env_id, qpos, qvel, dt, clips_dir, render, fixtures)
    rate = playback_rate(len(qpos), dt, render)
    for item in items:
        add_to_index(clips_dir, item, path.name, clip_fps(dt, render, rate), rate, _seconds(scored, dt, rate))
    return str(path)


def _seconds(scored: tuple[int, int] | None, dt: float, rate: float) -> tuple[float, float] | None:
    """Steps (start, end) of a clip as seconds of video."""
    return None if scored is None else (scored[0] * dt / rate, scored[1] * dt / rate)


def _index_when_done(clips_dir: Path, item: str, fps: float, rate: float, scored: tuple[float, float] | None,
                     future: Future[Path]) -> None:
    """Record another segment id for a clip rendered on behalf of an earlier request."""
    if not future.cancelled() and future.exception() is None:
        add_to_index(clips_dir, item, future.result().name, fps, rate, scored)


def _forward_as_path(target: Future[Path], source: Future[str]) -> None:
    """Complete ``target`` with the worker's result (a path string) or its exception."""
    if source.cancelled():  # dropped by close(): nobody waits for it
        target.cancel()
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(Path(source.result()))


def _done(path: Path) -> Future[Path]:
    future: Future[Path] = Future()
    future.set_result(path)
    return future


class ClipPool:
    """Renders requested segments in background processes.

    Args:
        clips_dir: where clips and ``index.jsonl`` go.
        config: how clips look (preset, size, fps, codec); default ``RenderConfig()``.
        workers: number of worker processes (each holds its own GL context).
    """

    def __init__(self, clips_dir: str | Path, config: RenderConfig | None = None, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.clips_dir = Path(clips_dir)
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.config = config if config is not None else RenderConfig()
        self.workers = workers
        self._executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        self._inflight: dict[str, Future[Path]] = {}

    def clip_path(self, segments: Segments, row: int, context: ClipContext | None = None) -> Path:
        """Where segment ``row``'s clip is (or will be), whether or not it has been rendered."""
        qpos, qvel = (segments.qpos, segments.qvel) if context is None else (context.qpos, context.qvel)
        fixtures = None if segments.fixtures is None else segments.fixtures[row]
        return self.clips_dir / clip_name(segments.env_id, qpos[row], qvel[row], segments.dt, self.config, fixtures)

    def request(
        self, segments: Segments, rows: Sequence[int] | None = None, context: ClipContext | None = None
    ) -> dict[str, Future[Path]]:
        """Queue the clips of ``rows`` (default: all) of a batch; returns segment id → future of its clip path.

        With ``context`` (:func:`~rlhf_robotics.robotics.clip_context.episode_context` of the same batch) a clip
        shows the steps around its segment too, and its index line marks the scored part. A clip already on
        disk is a finished future (its index line is ensured); one already queued is shared.
        """
        if context is not None and len(context.qpos) != len(segments):
            raise ValueError(f"context holds {len(context.qpos)} clips for a batch of {len(segments)} segments; "
                             "make it from the same batch")
        if not segments.env_id:
            raise ValueError("segments.env_id is empty; the renderer needs the Gymnasium id to load the model")
        out: dict[str, Future[Path]] = {}
        for row in range(len(segments)) if rows is None else rows:
            sid = segments.ids[row]
            path = self.clip_path(segments, row, context)
            qpos, qvel = (segments.qpos, segments.qvel) if context is None else (context.qpos, context.qvel)
            steps = (None if context is None else (context.before, context.before + segments.length))
            rate = playback_rate(len(qpos[row]), segments.dt, self.config)
            fps = clip_fps(segments.dt, self.config, rate)
            scored = _seconds(steps, segments.dt, rate)
            if path.exists():
                add_to_index(self.clips_dir, sid, path.name, fps, rate, scored)
                out[sid] = _done(path)
                continue
            pending = self._inflight.get(path.name)
            if pending is not None and not pending.done():
                pending.add_done_callback(partial(_index_when_done, self.clips_dir, sid, fps, rate, scored))
                out[sid] = pending
                continue
            # a submit may start the worker processes: they ignore Ctrl-C and can start inside a job of Hydra's
            # joblib launcher (whose default start method a spawned child cannot set)
            with starting_workers():
                raw = self._executor.submit(
                    _render_job, segments.env_id, np.asarray(qpos[row]), np.asarray(qvel[row]),
                    float(segments.dt), str(self.clips_dir), self.config.to_dict(), [sid], steps,
                    None if segments.fixtures is None else np.asarray(segments.fixtures[row]),
                )
            future: Future[Path] = Future()
            raw.add_done_callback(partial(_forward_as_path, future))
            self._inflight[path.name] = future
            out[sid] = future
        return out

    def request_ids(self, store: SegmentStore, ids: Sequence[str]) -> dict[str, Future[Path]]:
        """Queue the clips of stored segments by id (ids not yet in the store raise ``KeyError``)."""
        out: dict[str, Future[Path]] = {}
        for sid in ids:  # one at a time: a store may hold batches of several tasks
            out.update(self.request(store.get([sid])))
        return out

    def close(self, wait: bool = True, terminate: bool = False, timeout: float = 5.0) -> None:
        """Stop the workers: after the queued clips, or with ``wait=False`` after the clips being rendered (the
        queued ones are dropped; the workers exit when their clip is done).

        ``terminate=True`` also ends the clips being rendered: the worker processes get SIGTERM, then SIGKILL after
        ``timeout`` seconds, so a run that is stopped leaves none of them behind (issue 16: a run killed with
        SIGTERM used to orphan its render workers). A clip cut short leaves only a temporary file: clips are
        written to a temporary name and renamed when complete.
        """
        processes = list((self._executor._processes or {}).values())  # private, but the only handle on them
        self._executor.shutdown(wait=wait and not terminate, cancel_futures=not wait or terminate)
        if not terminate:
            return
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout)

    def __enter__(self) -> ClipPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
