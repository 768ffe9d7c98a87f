"""Robot comparisons exported for Hugging Face ``datasets``: the segment store is the item source the core's
exporter reads arrays from (``obs``, ``action``, ``true_reward`` per step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlhf_robotics.preference.export import export_run
from rlhf_robotics.preference.items import ItemPayloads
from rlhf_robotics.preference.records import Judgment, Query
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.robotics.segments import Segments, SegmentStore

N, T, OBS, ACT = 4, 5, 3, 2


def robot_run(root: Path) -> Segments:
    rng = np.random.default_rng(0)
    segs = Segments(ids=[f"seg-{i}" for i in range(N)],
                    obs=rng.normal(size=(N, T, OBS)).astype(np.float32),
                    act=rng.uniform(-1, 1, size=(N, T, ACT)).astype(np.float32),
                    reward=rng.normal(size=(N, T)).astype(np.float32),
                    qpos=np.zeros((N, T, 2)), qvel=np.zeros((N, T, 2)), env_id="Hopper-v5", dt=0.008)
    SegmentStore(RunPaths(root).segments).save("round_000", segs)
    with PreferenceStore(RunPaths(root).store) as store:
        q = store.add_queries([Query("seg-0", "seg-1"), Query("seg-3", "seg-2"), Query("seg-1", "seg-2")])
        store.add_judgments([Judgment(q[0], "second", "teacher:oracle"), Judgment(q[1], "tie", "human:ann"),
                             Judgment(q[2], "cant_tell", "human:ann")])
    return segs


def test_datasets_loads_robot_comparisons_as_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets  # the dev extra; imported here because it takes a second or two

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    segs = robot_run(tmp_path)
    items = SegmentStore(RunPaths(tmp_path).segments)
    assert isinstance(items, ItemPayloads)
    out = tmp_path / "pairs.jsonl"
    assert export_run(tmp_path, out, "datasets", items=items) == 2  # cant_tell has no target
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds["target"] == [0.0, 0.5] and ds["first_id"] == ["seg-0", "seg-3"]
    ds = ds.with_format("numpy")
    second = ds[1]["second"]  # seg-2
    assert np.asarray(np.stack(second["obs"])).shape == (T, OBS)
    np.testing.assert_array_equal(np.stack(second["obs"]).astype(np.float32), segs.obs[2])
    np.testing.assert_array_equal(np.stack(second["action"]).astype(np.float32), segs.act[2])
    np.testing.assert_array_equal(np.asarray(ds[0]["first"]["true_reward"], dtype=np.float32), segs.reward[0])


def test_a_comparison_of_a_missing_segment_is_named(tmp_path: Path) -> None:
    robot_run(tmp_path)
    with PreferenceStore(RunPaths(tmp_path).store) as store:
        store.add_judgment(Judgment(store.add_queries([Query("seg-0", "seg-9")])[0], "first", "human:ann"))
    with pytest.raises(ValueError, match="missing from .*seg-9"):
        export_run(tmp_path, tmp_path / "pairs.jsonl", "datasets", items=SegmentStore(RunPaths(tmp_path).segments))
