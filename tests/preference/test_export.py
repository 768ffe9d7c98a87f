"""One exporter per format: TRL's prompt/chosen/rejected and a Hugging Face ``datasets`` table of LM comparisons
(robot segments are tested in ``tests/robotics/test_segment_export.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlhf_robotics.preference.export import FORMATS, export_run
from rlhf_robotics.preference.items import TextItem
from rlhf_robotics.preference.records import Judgment, Query
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore

ANSWERS = ["first", "second", "tie", "cant_tell", "skip"]


def text_run(root: Path) -> list[int]:
    """Five text pairs ``What is k + k?`` (responses ``a{k}`` / ``b{k}``) answered with :data:`ANSWERS`."""
    with PreferenceStore(RunPaths(root).store) as store:
        store.add_items([TextItem(f"{side}{k}", f"What is {k} + {k}?", f"{side}{k}") for k in range(5) for side in "ab"])
        qids = store.add_queries([Query(f"a{k}", f"b{k}") for k in range(5)])
        store.add_judgments([Judgment(q, label, "human:ann") for q, label in zip(qids, ANSWERS, strict=True)])
    return qids


def test_trl_keeps_decisive_pairs_with_the_chosen_side(tmp_path: Path) -> None:
    text_run(tmp_path)
    assert export_run(tmp_path, tmp_path / "trl.jsonl", "trl") == 2
    rows = [json.loads(line) for line in (tmp_path / "trl.jsonl").read_text().splitlines()]
    assert rows == [{"prompt": "What is 0 + 0?", "chosen": "a0", "rejected": "b0"},
                    {"prompt": "What is 1 + 1?", "chosen": "b1", "rejected": "a1"}]  # tie, cant_tell, skip left out


def test_trl_of_a_clip_run_names_the_formats_that_fit(tmp_path: Path) -> None:
    with PreferenceStore(RunPaths(tmp_path).store) as store:
        store.add_judgment(Judgment(store.add_queries([Query("seg-0", "seg-1")])[0], "first", "human:ann"))
    with pytest.raises(ValueError, match="format=datasets or format=store"):
        export_run(tmp_path, tmp_path / "trl.jsonl", "trl")
    with pytest.raises(ValueError, match=r"not text items .* items=SegmentStore"):
        export_run(tmp_path, tmp_path / "d.jsonl", "datasets")


def test_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no preference store at"):
        export_run(tmp_path, tmp_path / "x.jsonl")
    text_run(tmp_path)
    with pytest.raises(ValueError, match="'csv' is not one of store, trl, datasets"):
        export_run(tmp_path, tmp_path / "x.jsonl", "csv")
    assert FORMATS == ("store", "trl", "datasets")


def test_datasets_loads_the_text_comparisons_with_their_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets  # the dev extra; imported here because it takes a second or two

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    qids = text_run(tmp_path)
    out = tmp_path / "export" / "pairs.jsonl"
    assert export_run(tmp_path, out, "datasets") == 3  # first, second, tie; cant_tell and skip have no target
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 3
    assert ds["query_id"] == qids[:3] and ds["target"] == [1.0, 0.0, 0.5]
    assert ds[1]["first"] == {"prompt": "What is 1 + 1?", "response": "a1"}
    assert ds[1]["second"] == {"prompt": "What is 1 + 1?", "response": "b1"}
    assert (ds[2]["first_id"], ds[2]["second_id"]) == ("a2", "b2")
