"""Clip rendering from stored MuJoCo states: non-blank frames for every task, readable mp4/webm, content
addressing, the clip index, the pair composite and the background pool."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest
import rlhf_robotics.envs  # noqa: F401  (registers the suite's tasks)
from rlhf_robotics.envs import TASK_IDS

from rlhf_robotics.robotics.rendering import (
    Codec,
    RenderConfig,
    SceneRenderer,
    clip_name,
    frame_steps,
    read_index,
    render_frames,
    render_pair,
    render_segment,
    side_by_side,
)
from rlhf_robotics.robotics.segments import Segments, SegmentStore

SMALL = RenderConfig(width=64, height=64, fps=None)


def make_segments(env_id: str, n: int = 2, steps: int = 12, seed: int = 0, prefix: str = "seg") -> Segments:
    """Random-action segments with the MuJoCo state at each observation, as the rollout code stores them."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    qpos: list[list] = []
    qvel: list[list] = []
    obs: list[list] = []
    act: list[list] = []
    rew: list[list] = []
    for i in range(n):
        o, _ = env.reset(seed=seed + i)
        rows: list[list] = [[], [], [], [], []]
        for _ in range(steps):
            data = env.unwrapped.data  # type: ignore[attr-defined]
            a = env.action_space.sample()
            rows[0].append(data.qpos.copy())
            rows[1].append(data.qvel.copy())
            rows[2].append(o)
            rows[3].append(a)
            o, r, *_ = env.step(a)
            rows[4].append(r)
        for store, row in zip((qpos, qvel, obs, act, rew), rows, strict=True):
            store.append(row)
    dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
    env.close()
    return Segments(
        ids=[f"{prefix}-{i}" for i in range(n)], obs=np.array(obs, np.float32), act=np.array(act, np.float32),
        reward=np.array(rew), qpos=np.array(qpos), qvel=np.array(qvel), env_id=env_id, dt=dt,
    )


def assert_not_blank(frames: np.ndarray) -> None:
    assert frames.dtype == np.uint8 and frames.ndim == 4
    for frame in frames:
        assert frame.std() > 5, "a blank (single-colour) frame: the GL context is broken"


def test_frame_steps_sample_in_real_time() -> None:
    np.testing.assert_array_equal(frame_steps(5, 0.05, None), np.arange(5))
    np.testing.assert_array_equal(frame_steps(10, 0.05, 10.0), [0, 2, 4, 6, 8])  # 20 Hz steps at 10 fps
    np.testing.assert_array_equal(frame_steps(2, 0.05, 40.0), [0, 0, 1, 1])  # duplicates above the step rate
    with pytest.raises(ValueError, match="dt"):
        frame_steps(3, 0.0, 30.0)


def test_config_refuses_odd_sizes_with_the_fix() -> None:
    with pytest.raises(ValueError, match="try 66"):
        RenderConfig(width=65)
    with pytest.raises(ValueError, match="preset"):
        RenderConfig(preset="ugly")  # type: ignore[arg-type]


def test_names_are_content_addresses() -> None:
    q, v = np.zeros((3, 6)), np.zeros((3, 6))
    name = clip_name("Hopper-v5", q, v, 0.008, SMALL)
    assert name == clip_name("Hopper-v5", q.copy(), v.copy(), 0.008, SMALL) and name.endswith(".mp4")
    q2 = q.copy()
    q2[1, 1] = 1e-9
    others = {
        clip_name("Hopper-v5", q2, v, 0.008, SMALL), clip_name("Walker2d-v5", q, v, 0.008, SMALL),
        clip_name("Hopper-v5", q, v, 0.008, RenderConfig(width=64, height=64, fps=None, preset="pretty")),
        clip_name("Hopper-v5", q, v, 0.008, RenderConfig(width=64, height=64, fps=30.0)),
        clip_name("Hopper-v5", q, v, 0.008, RenderConfig(width=64, height=64, fps=None, codec="webm")),
    }
    assert name not in others and len(others) == 5


@pytest.mark.render
@pytest.mark.parametrize("env_id", TASK_IDS)
def test_every_task_renders_non_blank_frames(env_id: str) -> None:
    seg = make_segments(env_id, n=1, steps=3)
    frames = render_frames(env_id, seg.qpos[0], seg.qvel[0], seg.dt, SMALL)
    assert frames.shape == (3, 64, 64, 3)
    assert_not_blank(frames)


@pytest.mark.render
def test_frames_show_the_stored_state() -> None:
    """Frame t is drawn from state t: one clip over poses A, B, A, C gives equal frames for the two A's, different
    frames for different poses, and each frame equals that pose rendered alone (a renderer that drew only the
    first state, or drew states out of order, fails)."""
    seg = make_segments("rlhf_robotics/ReacherSmooth-v1", n=1, steps=1)  # fixed camera: poses differ in pixels
    a = seg.qpos[0, 0]
    b, c = a.copy(), a.copy()
    b[0] += 1.5  # shoulder joint (rad)
    c[1] += 1.5  # elbow joint (rad)
    qpos = np.stack([a, b, a, c])
    qvel = np.zeros((4, len(seg.qvel[0, 0])))
    clip = render_frames(seg.env_id, qpos, qvel, seg.dt, SMALL)
    alone = [render_frames(seg.env_id, q[None], v[None], seg.dt, SMALL)[0] for q, v in zip(qpos, qvel, strict=True)]

    def differ(x: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.abs(x.astype(int) - y.astype(int)).mean() > 0.5)

    assert clip.shape == (4, 64, 64, 3)
    for t in range(4):
        np.testing.assert_array_equal(clip[t], alone[t], err_msg=f"frame {t} is not its own state")
    np.testing.assert_array_equal(clip[0], clip[2])
    assert differ(clip[0], clip[1]) and differ(clip[0], clip[3]) and differ(clip[1], clip[3])


@pytest.mark.render
def test_fast_and_pretty_presets_differ() -> None:
    seg = make_segments("rlhf_robotics/HopperBackflip-v3", n=1, steps=1)
    fast = render_frames(seg.env_id, seg.qpos[0], seg.qvel[0], seg.dt, SMALL)
    pretty = render_frames(seg.env_id, seg.qpos[0], seg.qvel[0], seg.dt,
                           RenderConfig(width=64, height=64, fps=None, preset="pretty"))
    assert_not_blank(pretty)
    assert np.abs(fast.astype(int) - pretty.astype(int)).mean() > 1.0


@pytest.mark.render
def test_a_survivor_renderer_is_not_blanked_when_another_is_closed() -> None:
    seg = make_segments("rlhf_robotics/ReacherSmooth-v1", n=1, steps=2)
    survivor = SceneRenderer(seg.env_id, "fast", 64, 64)
    other = SceneRenderer("rlhf_robotics/PusherGentle-v1", "fast", 64, 64)
    before = survivor.frames(seg.qpos[0], seg.qvel[0])
    other.close()
    del other
    import gc

    gc.collect()
    after = survivor.frames(seg.qpos[0], seg.qvel[0])
    assert_not_blank(after)
    np.testing.assert_array_equal(before, after)
    survivor.close()


@pytest.mark.render
@pytest.mark.parametrize("codec", ["mp4", "webm"])
def test_segment_clip_reads_back_is_indexed_and_is_never_rendered_twice(tmp_path: Path, codec: Codec) -> None:
    seg = make_segments("rlhf_robotics/HopperBackflip-v3", n=2, steps=25)
    config = RenderConfig(width=64, height=64, fps=50.0, codec=codec)  # 25 steps of 8 ms = 0.2 s → 10 frames
    path = render_segment(seg, 0, tmp_path, config)
    assert path.parent == tmp_path and path.suffix == f".{codec}"
    video = iio.imread(path)
    assert video.shape == (10, 64, 64, 3)
    assert video.std() > 5
    mtime = path.stat().st_mtime_ns
    assert render_segment(seg, 0, tmp_path, config) == path and path.stat().st_mtime_ns == mtime
    render_segment(seg, 1, tmp_path, config)
    lines = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert lines == [{"item": "seg-0", "file": path.name, "fps": 50.0},
                     {"item": "seg-1", "file": lines[1]["file"], "fps": 50.0}]
    assert read_index(tmp_path)["seg-0"] == path.name
    assert not list(tmp_path.glob(".*tmp*")), "temporary files are renamed into place"


@pytest.mark.render
def test_pair_composite_plays_both_on_one_clock(tmp_path: Path) -> None:
    a = make_segments("rlhf_robotics/HopperBackflip-v3", n=1, steps=25)
    b = make_segments("rlhf_robotics/HopperBackflip-v3", n=1, steps=13, seed=5)
    path = render_pair(a, 0, b, 0, tmp_path / "pair.mp4", RenderConfig(width=64, height=64, fps=50.0))
    video = iio.imread(path)
    assert video.shape == (10, 64, 132, 3)  # 64 + 4 px gap + 64; the shorter clip holds its last frame


def test_side_by_side_pads_the_shorter_clip() -> None:
    left, right = np.zeros((3, 4, 4, 3), np.uint8), np.full((1, 2, 4, 3), 9, np.uint8)
    out = side_by_side(left, right, gap=2)
    assert out.shape == (3, 4, 10, 3)
    assert (out[2, :2, 6:] == 9).all() and (out[:, 2:, 6:] == 0).all()


@pytest.mark.render
@pytest.mark.slow
def test_pool_renders_requested_store_ids_once_and_indexes_them(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.render_pool import ClipPool

    store = SegmentStore(tmp_path / "segments")
    store.save("b0", make_segments("rlhf_robotics/ReacherSmooth-v1", n=3, steps=10, prefix="r"))
    store.save("b1", make_segments("rlhf_robotics/HopperBackflip-v3", n=1, steps=10, prefix="h"))
    clips = tmp_path / "clips"
    with ClipPool(clips, SMALL, workers=2) as pool:
        futures = pool.request_ids(store, ["r-0", "h-0", "r-2"])
        again = pool.request_ids(store, ["r-0"])
        paths = {sid: f.result(timeout=120) for sid, f in futures.items()}
        assert again["r-0"].result(timeout=120) == paths["r-0"]
    assert sorted(read_index(clips)) == ["h-0", "r-0", "r-2"], "only the requested ids are rendered"
    for path in paths.values():
        assert iio.imread(path).shape == (10, 64, 64, 3)
    assert len(list(clips.glob("*.mp4"))) == 3


@pytest.mark.render
def test_gallery_command_writes_a_clip_per_task_and_a_contact_sheet(tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry

    out = tmp_path / "gallery"
    assert entry(["gallery", f"out={out}", "seconds=0.2", "size=32", "fps=20"]) == 0
    summary = json.loads((out / "gallery.json").read_text())
    assert [t["env_id"] for t in summary["tasks"]] == list(TASK_IDS)
    for task in summary["tasks"]:
        assert iio.imread(out / task["clip"]).shape[1:] == (32, 32, 3)
    sheet = iio.imread(out / "contact_sheet.png")
    assert sheet.ndim == 3 and sheet.std() > 5
