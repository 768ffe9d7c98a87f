"""Clip rendering: turn a stored segment's MuJoCo states (qpos, qvel) back into video, without re-running the
policy. Owns the quality presets, content-addressed clip names, H.264 mp4 / VP9 webm encoding and the
side-by-side pair composite; finished clips are recorded in the clip index of
:mod:`rlhf_robotics.preference.rundir` (``index.jsonl``, one locked definition for the loop and the app).

Rendering is headless where there is no display: importing :mod:`rlhf_robotics` sets ``MUJOCO_GL=egl`` before
MuJoCo loads (see the package docstring). Renderers are
kept per process and reused; the background pool of worker processes is in ``render_pool.py``.

Typical use::

    path = render_segment(segments, row=0, clips_dir="videos/clips")     # videos/clips/<hash>.mp4
    render_pair(segments, 0, segments, 1, "videos/review/pair.mp4")     # side by side
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import imageio_ffmpeg
import mujoco
import numpy as np

from rlhf_robotics.preference.rundir import CLIP_INDEX, add_clip, read_clip_index
from rlhf_robotics.robotics.segments import Segments

Preset = Literal["fast", "pretty"]
Codec = Literal["mp4", "webm"]

RENDER_VERSION = 1
"""Part of every clip's content hash; bump it when the same inputs would render differently."""

INDEX_FILE = CLIP_INDEX
"""Per clip folder: one ``{"item": <segment id>, "file": <clip file name>, "fps": <frame rate>}`` line per
finished clip (the labelling app follows it); defined in :mod:`rlhf_robotics.preference.rundir`."""


@dataclass(frozen=True)
class RenderConfig:
    """How clips look and play."""

    preset: Preset = "fast"
    """``fast``: no shadows, reflections, skybox or multisampling (≈10× faster under software GL);
    ``pretty``: the model's own visual settings."""
    width: int = 256
    """Frame width in pixels (even; H.264 with yuv420p needs even sizes)."""
    height: int = 256
    """Frame height in pixels (even)."""
    fps: float | None = 30.0
    """Output frames per second, sampled from the segment in real time; None = one frame per step (1/dt)."""
    codec: Codec = "mp4"
    """``mp4`` (H.264, yuv420p, faststart) or ``webm`` (VP9); Chromium plays both."""
    min_seconds: float | None = None
    """Shortest clip as played, in seconds: a shorter segment is rendered slowed down (more frames of the same
    steps) until it lasts this long (see :func:`playback_rate`); None = always real time."""
    camera_distance: float | None = None
    """Camera distance replacing the task's ``default_camera_config`` one (smaller: the robot fills the frame)."""
    camera_height: float | None = None
    """Height of the point the camera looks at (``lookat[2]``), replacing the task's; None = the task's own."""
    camera_elevation: float | None = None
    """Camera elevation in degrees (negative looks down), replacing the task's; None = the task's own."""

    def __post_init__(self) -> None:
        if self.preset not in ("fast", "pretty"):
            raise ValueError(f"preset must be 'fast' or 'pretty', got {self.preset!r}")
        if self.codec not in ("mp4", "webm"):
            raise ValueError(f"codec must be 'mp4' or 'webm', got {self.codec!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value < 16 or value % 2:
                raise ValueError(f"{name} must be an even number of pixels >= 16, got {value}; try {max(16, value + value % 2)}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be > 0 or None (one frame per step), got {self.fps}")
        if self.min_seconds is not None and not self.min_seconds > 0:
            raise ValueError(f"min_seconds must be > 0 or None (real time), got {self.min_seconds}")
        if self.camera_distance is not None and not self.camera_distance > 0:
            raise ValueError(f"camera_distance must be > 0 or None (the task's own), got {self.camera_distance}")
        if self.camera_elevation is not None and not -90 <= self.camera_elevation <= 90:
            raise ValueError(f"camera_elevation must be in [-90, 90] degrees or None, got {self.camera_elevation}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hash_fields(self) -> dict[str, Any]:
        """The fields a clip's name depends on (optional ones left out while unset, so names made before they
        existed stay valid)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in _OPTIONAL}

    def camera(self) -> dict[str, Any]:
        """The camera settings that replace the task's ``default_camera_config`` ones."""
        out: dict[str, Any] = {}
        if self.camera_distance is not None:
            out["distance"] = self.camera_distance
        if self.camera_elevation is not None:
            out["elevation"] = self.camera_elevation
        if self.camera_height is not None:
            out["lookat_z"] = self.camera_height
        return out


_OPTIONAL = ("min_seconds", "camera_distance", "camera_height", "camera_elevation")
"""Fields added after clips were first named: left out of a clip's hash while None."""


# ---------------------------------------------------------------------------------------------------------------
# Presets: model visual settings (before the renderer exists) and scene flags (after).

_FAST_OFF_FLAGS = (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX)


def apply_preset_to_model(model: mujoco.MjModel, preset: Preset, width: int, height: int) -> None:
    """Visual settings that must be in the model before a ``mujoco.Renderer`` is made for it."""
    model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
    model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
    if preset == "fast":
        model.vis.quality.offsamples = 0  # no multisampling: the largest single cost under software GL


def apply_preset_to_scene(scene: mujoco.MjvScene, preset: Preset) -> None:
    """Scene flags of a preset (``fast`` turns off shadows, reflections and the skybox)."""
    if preset == "fast":
        for flag in _FAST_OFF_FLAGS:
            scene.flags[flag] = 0


def default_camera(model: mujoco.MjModel, config: dict[str, Any] | None) -> mujoco.MjvCamera:
    """A free camera from an env's ``default_camera_config``; ``trackbodyid`` > 0 (by default body 1 when the
    root joint is free or sliding, i.e. a locomotion task) is followed horizontally, at a fixed height."""
    cam = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, cam)
    config = dict(config or {})
    moving = (int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    root_moves = model.njnt > 0 and int(model.jnt_type[0]) in moving
    track = int(config.pop("trackbodyid", 1 if root_moves else -1))
    if track == 0 and root_moves:
        track = 1
    for key, value in config.items():
        if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
            getattr(cam, key)[:] = value
        else:
            setattr(cam, key, value)
    # Tracking is done by hand (``SceneRenderer.frames`` centres ``lookat`` on the body's subtree each frame):
    # MuJoCo's tracking camera filters its motion over successive frames, so a frame would depend on the
    # frames rendered before it, and a clip's content would depend on the renderer's history.
    cam.trackbodyid = track
    return cam


# ---------------------------------------------------------------------------------------------------------------
# Per-process renderers.


class SceneRenderer:
    """Renders MuJoCo states of one task at one preset and size. Reuse it: making one costs a GL context."""

    def __init__(self, env_id: str, preset: Preset, width: int, height: int,
                 camera: dict[str, Any] | None = None) -> None:
        import gymnasium as gym

        import rlhf_robotics.envs  # noqa: F401  (registers the suite's tasks)

        self.env_id = env_id
        env: Any = gym.make(env_id).unwrapped  # only for its model and camera; never rendered
        if not isinstance(getattr(env, "model", None), mujoco.MjModel):  # Gymnasium's MujocoEnv, our DMC adapter
            raise TypeError(f"{env_id} is not a MuJoCo environment ({type(env).__name__}); clips need a MuJoCo model")
        self._env = env
        self.model: mujoco.MjModel = self._env.model
        self.data = mujoco.MjData(self.model)
        self.dt = float(self._env.dt)
        apply_preset_to_model(self.model, preset, width, height)
        self.renderer = mujoco.Renderer(self.model, height=height, width=width)
        apply_preset_to_scene(self.renderer.scene, preset)
        cam_config = dict(getattr(getattr(self._env, "mujoco_renderer", None), "default_cam_config", None) or {})
        camera = dict(camera or {})
        if "lookat_z" in camera:
            lookat = np.array(cam_config.get("lookat", np.zeros(3)), dtype=np.float64)
            lookat[2] = camera.pop("lookat_z")
            cam_config["lookat"] = lookat
        cam_config.update(camera)
        self.camera = default_camera(self.model, cam_config)
        self.width, self.height = width, height

    def frames(self, qpos: np.ndarray, qvel: np.ndarray, steps: np.ndarray | None = None,
               fixtures: np.ndarray | None = None) -> np.ndarray:
        """Render ``qpos[steps]`` (all steps by default): ``(F, H, W, 3)`` uint8.

        Each distinct step is rendered once; repeated steps (fps above the step rate) are copies. ``fixtures`` (a
        :func:`~rlhf_robotics.robotics.physics.fixture_vector` of the episode) puts the model parts the task placed
        for that episode where they were; the renderer's model is restored afterwards.
        """
        qpos = np.asarray(qpos, dtype=np.float64)
        qvel = np.asarray(qvel, dtype=np.float64)
        if qpos.ndim != 2 or qpos.shape[1] != self.model.nq:
            raise ValueError(f"qpos must be (T, {self.model.nq}) for {self.env_id}, got {qpos.shape}")
        if qvel.shape != (qpos.shape[0], self.model.nv):
            raise ValueError(f"qvel must be (T, {self.model.nv}) for {self.env_id}, got {qvel.shape}")
        steps = np.arange(len(qpos)) if steps is None else np.asarray(steps)
        unique, inverse = np.unique(steps, return_inverse=True)
        out = np.empty((len(unique), self.height, self.width, 3), dtype=np.uint8)
        with _fixtures_applied(self.model, fixtures):
            self._render(qpos, qvel, unique, out)
        return out[inverse.reshape(-1)] if len(unique) != len(steps) else out

    def _render(self, qpos: np.ndarray, qvel: np.ndarray, unique: np.ndarray, out: np.ndarray) -> None:
        for i, t in enumerate(unique):
            self.data.qpos[:] = qpos[t]
            self.data.qvel[:] = qvel[t]
            mujoco.mj_forward(self.model, self.data)
            if self.camera.trackbodyid > 0:
                self.camera.lookat[:2] = self.data.subtree_com[self.camera.trackbodyid][:2]
            self.renderer.update_scene(self.data, camera=self.camera)
            self.renderer.render(out=out[i])

    def close(self) -> None:
        self.renderer.close()
        self._env.close()


@contextmanager
def _fixtures_applied(model: mujoco.MjModel, fixtures: np.ndarray | None) -> Iterator[None]:
    if fixtures is None:
        yield
        return
    from rlhf_robotics.robotics.physics import apply_fixtures, fixture_vector

    saved = fixture_vector(model)
    apply_fixtures(model, fixtures)
    try:
        yield
    finally:
        apply_fixtures(model, saved)


_RENDERERS: dict[tuple[Any, ...], SceneRenderer] = {}


def get_renderer(env_id: str, config: RenderConfig) -> SceneRenderer:
    """This process's renderer for ``env_id`` at ``config``'s preset and size (made once, then reused).

    Renderers stay open for the life of the process: closing one GL context while another lives has been seen
    to blank the survivor's frames (PEERS.md), so they are only closed together by ``close_renderers``.
    """
    key = (env_id, config.preset, config.width, config.height, tuple(sorted(config.camera().items())))
    if key not in _RENDERERS:
        _RENDERERS[key] = SceneRenderer(env_id, config.preset, config.width, config.height, config.camera())
    return _RENDERERS[key]


def close_renderers() -> None:
    """Free every renderer of this process."""
    while _RENDERERS:
        _, renderer = _RENDERERS.popitem()
        renderer.close()


# ---------------------------------------------------------------------------------------------------------------
# Frames, names, encoding.


def frame_steps(num_steps: int, dt: float, fps: float | None) -> np.ndarray:
    """Which step each output frame shows: real-time sampling of ``num_steps`` steps of ``dt`` s at ``fps``."""
    if fps is None:
        return np.arange(num_steps)
    if dt <= 0:
        raise ValueError(f"dt must be > 0 to sample at {fps} fps, got {dt}; set Segments.dt or use fps=None")
    n_frames = max(1, int(round(num_steps * dt * fps)))
    # the small epsilon keeps k/(fps·dt) = 5.9999… from landing on step 5 (floating point)
    return np.minimum(np.floor(np.arange(n_frames) / (fps * dt) + 1e-9).astype(np.int64), num_steps - 1)


def playback_rate(num_steps: int, dt: float, config: RenderConfig) -> float:
    """Simulated seconds per second of video: 1 (real time), or less when ``num_steps`` steps of ``dt`` last
    under ``config.min_seconds`` (Hopper: 60 steps of 8 ms = 0.48 s → 0.32 for a 1.5 s clip)."""
    if config.min_seconds is None or dt <= 0:
        return 1.0
    return min(1.0, num_steps * dt / config.min_seconds)


def clip_fps(dt: float, config: RenderConfig, rate: float = 1.0) -> float:
    """Frame rate of a clip: ``config.fps``, or one frame per step (``rate``/dt) when it is None."""
    return float(config.fps) if config.fps is not None else rate / dt


def clip_name(env_id: str, qpos: np.ndarray, qvel: np.ndarray, dt: float, config: RenderConfig,
              fixtures: np.ndarray | None = None) -> str:
    """Content address of a clip: hash of what it shows and how (so nothing is rendered twice)."""
    h = hashlib.sha256()
    meta = {"v": RENDER_VERSION, "env": env_id, "dt": float(dt), **config.hash_fields()}
    h.update(json.dumps(meta, sort_keys=True).encode())
    for arr in (qpos, qvel) if fixtures is None else (qpos, qvel, fixtures):
        a = np.ascontiguousarray(arr, dtype=np.float64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return f"{h.hexdigest()[:24]}.{config.codec}"


_CODEC_ARGS: dict[str, tuple[str, list[str]]] = {
    "mp4": ("libx264", ["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"]),
    "webm": ("libvpx-vp9", ["-b:v", "0", "-crf", "35", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]),
}


def encode(frames: np.ndarray, path: str | Path, fps: float, codec: Codec = "mp4") -> Path:
    """Write ``(F, H, W, 3)`` uint8 frames as H.264 mp4 or VP9 webm, atomically (temp file, then rename)."""
    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (F, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    vcodec, params = _CODEC_ARGS[codec]
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    writer = imageio_ffmpeg.write_frames(
        str(tmp), (frames.shape[2], frames.shape[1]), fps=fps, codec=vcodec, pix_fmt_out="yuv420p",
        quality=None, macro_block_size=2, output_params=params, ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    tmp.replace(path)
    return path


def render_frames(
    env_id: str, qpos: np.ndarray, qvel: np.ndarray, dt: float, config: RenderConfig = RenderConfig(),
    fixtures: np.ndarray | None = None,
) -> np.ndarray:
    """The frames of a clip: ``(F, H, W, 3)`` uint8, sampled at ``config.fps`` in real time, or slowed down to
    :func:`playback_rate` (each step then lasts ``dt / rate`` seconds of video); ``fixtures``: the episode's placed
    model parts (:attr:`Segments.fixtures`)."""
    steps = frame_steps(len(qpos), dt / playback_rate(len(qpos), dt, config), config.fps)
    return get_renderer(env_id, config).frames(qpos, qvel, steps, fixtures)


def render_clip(
    env_id: str, qpos: np.ndarray, qvel: np.ndarray, dt: float, clips_dir: str | Path,
    config: RenderConfig = RenderConfig(), fixtures: np.ndarray | None = None,
) -> Path:
    """Render states ``(T, nq)``/``(T, nv)`` to ``clips_dir/<content hash>.<codec>``; an existing file is reused."""
    path = Path(clips_dir) / clip_name(env_id, qpos, qvel, dt, config, fixtures)
    if not path.exists():
        frames = render_frames(env_id, qpos, qvel, dt, config, fixtures)
        encode(frames, path, clip_fps(dt, config, playback_rate(len(qpos), dt, config)), config.codec)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Segments, the clip index and pairs.


def add_to_index(
    clips_dir: str | Path, item: str, file: str, fps: float | None = None, rate: float = 1.0,
    scored: tuple[float, float] | None = None,
) -> bool:
    """Record clip ``file`` of segment ``item`` in ``clips_dir/index.jsonl`` unless that line is there already.

    The core's :func:`~rlhf_robotics.preference.rundir.add_clip`: an exclusive ``flock`` around read-check-append,
    so render workers and the app's writers never interleave. ``rate`` < 1 records a slowed-down clip (the app
    states it); ``scored`` marks the scored part of a clip with context. Returns whether a line was added.
    """
    return add_clip(clips_dir, item, file, fps, rate, scored)


def read_index(clips_dir: str | Path) -> dict[str, str]:
    """Segment id → clip file name from ``clips_dir/index.jsonl`` (the last line for an id wins)."""
    return read_clip_index(clips_dir)


def _row_fixtures(segments: Segments, row: int) -> np.ndarray | None:
    return None if segments.fixtures is None else segments.fixtures[row]


def _check_row(segments: Segments, row: int) -> None:
    if not 0 <= row < len(segments):
        raise IndexError(f"row {row} is outside this batch of {len(segments)} segments")
    if not segments.env_id:
        raise ValueError("segments.env_id is empty; the renderer needs the Gymnasium id to load the model")


def render_segment(
    segments: Segments, row: int, clips_dir: str | Path, config: RenderConfig = RenderConfig(), index: bool = True
) -> Path:
    """Render segment ``row`` of a batch from its qpos/qvel and (by default) record it in ``index.jsonl``."""
    _check_row(segments, row)
    path = render_clip(segments.env_id, segments.qpos[row], segments.qvel[row], segments.dt, clips_dir, config,
                       _row_fixtures(segments, row))
    if index:
        rate = playback_rate(segments.length, segments.dt, config)
        add_to_index(clips_dir, segments.ids[row], path.name, clip_fps(segments.dt, config, rate), rate)
    return path


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 4) -> np.ndarray:
    """``(F, H, W1 + gap + W2, 3)``: two clips on one clock; the shorter holds its last frame."""
    n = max(len(left), len(right))
    pad = [np.concatenate([c, np.repeat(c[-1:], n - len(c), axis=0)]) if len(c) < n else c for c in (left, right)]
    height = max(left.shape[1], right.shape[1])
    pad = [np.pad(c, ((0, 0), (0, height - c.shape[1]), (0, 0), (0, 0))) for c in pad]
    sep = np.full((n, height, gap, 3), 255, dtype=np.uint8)
    return np.concatenate([pad[0], sep, pad[1]], axis=2)


def render_pair(
    first: Segments, first_row: int, second: Segments, second_row: int, path: str | Path,
    config: RenderConfig = RenderConfig(),
) -> Path:
    """A side-by-side clip of two segments (first on the left) for offline review, written to ``path``."""
    _check_row(first, first_row)
    _check_row(second, second_row)
    left = render_frames(first.env_id, first.qpos[first_row], first.qvel[first_row], first.dt, config,
                         _row_fixtures(first, first_row))
    right = render_frames(second.env_id, second.qpos[second_row], second.qvel[second_row], second.dt, config,
                          _row_fixtures(second, second_row))
    frames = side_by_side(left, right)
    if frames.shape[2] % 2:
        frames = np.pad(frames, ((0, 0), (0, 0), (0, 1), (0, 0)))
    return encode(frames, path, clip_fps(first.dt, config), config.codec)
