"""Exports of a run's labels, one exporter per format, for both tracks, and the import of a ``store`` export.

=============  =====================================================================================================
``store``      every item, query and judgment, ids included (lossless; :func:`import_jsonl` reads it back)
``trl``        ``{"prompt", "chosen", "rejected"}`` per decisive text comparison — TRL's explicit-prompt
               preference format for its reward and DPO trainers
``datasets``   one row per comparison with a training target, both items' payloads inline — texts for LM,
               ``obs``/``action``/``true_reward`` arrays for robot segments — loadable with
               ``datasets.load_dataset("json", data_files=path)``
=============  =====================================================================================================

All three are JSON Lines: the core writes them with the standard library (no pyarrow in the core), a person can
read them, and Hugging Face ``datasets`` loads them as they are (``Dataset.to_parquet`` converts when a columnar
file is wanted). Targets come from :func:`~rlhf_robotics.preference.records.aggregate_targets`, the one place
judgments become P(first ≻ second); ``cant_tell`` and ``skip`` have none and are left out of ``trl`` and
``datasets``, and ``trl`` also leaves out ties (its trainers have no ties, as TRL's documentation says).

Text items are read from the store; robot segments live in the robotics track's npz store, which the core cannot
import, so the caller passes it as ``items`` (anything with ``payloads(ids)``, e.g.
``SegmentStore(RunPaths(run_dir).segments)``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from rlhf_robotics.preference.items import ItemPayloads, text_comparisons
from rlhf_robotics.preference.records import Query, aggregate_targets
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.preference.store import PreferenceStore

ExportFormat = Literal["store", "trl", "datasets"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)

_BATCH = 256  # comparisons whose payloads are read at once (robot segments are arrays)


def comparisons(store: PreferenceStore) -> list[tuple[int, Query, float]]:
    """``(query id, query, target)`` of every query with a training target, in id order."""
    targets = aggregate_targets(store.judgments())
    return [(sq.id, sq.query, targets[sq.id]) for sq in store.queries() if sq.id in targets]


def export_store(store: PreferenceStore, out: str | Path, items: ItemPayloads | None = None) -> int:
    """The whole store as JSONL (:meth:`~rlhf_robotics.preference.store.PreferenceStore.export_jsonl`).

    Robot segments stay in their npz files (copy ``segments/`` with the export; they never change).
    Returns the line count.
    """
    return store.export_jsonl(out)


def export_trl(store: PreferenceStore, out: str | Path, items: ItemPayloads | None = None) -> int:
    """One ``{"prompt", "chosen", "rejected"}`` line per decisive text comparison; returns the line count.

    A comparison is decisive when its aggregated target is not 0.5 (the side with target > 0.5 is chosen).

    Raises:
        ValueError: the store holds no text comparisons (a robotics run: use ``format=datasets`` or
            ``format=store``).
    """
    lines = []
    for qid, first, second, target in text_comparisons(store):
        if target == 0.5:
            continue
        chosen, rejected = (first, second) if target > 0.5 else (second, first)
        if chosen.prompt != rejected.prompt:
            raise ValueError(f"query {qid} compares responses to two different prompts ({first.id!r}, {second.id!r}); "
                             "TRL's format has one prompt per pair, so export this run with format=datasets")
        lines.append({"prompt": chosen.prompt, "chosen": chosen.response, "rejected": rejected.response})
    if not lines and not store.count_items():
        raise ValueError(f"{store.path} has no text comparisons, so there is nothing in TRL's prompt/chosen/rejected "
                         "form; export clip comparisons with format=datasets or format=store")
    _write_jsonl(out, lines)
    return len(lines)


def export_datasets(store: PreferenceStore, out: str | Path, items: ItemPayloads | None = None) -> int:
    """One row per comparison with a target, both payloads inline; returns the row count.

    Row: ``{"query_id", "first_id", "second_id", "target", "first": payload, "second": payload}`` where
    ``target`` is P(first ≻ second) (1, 0, 0.5 for a tie, or an average over annotators) and a payload is
    ``{"prompt", "response"}`` for a text item, or for a robot segment of T steps ``{"obs": (T, obs_dim),
    "action": (T, act_dim), "true_reward": (T,)}`` as nested lists (the hidden true reward is there for offline
    analysis; a reward model must not train on it).

    Args:
        store: the preference store (also the source of text items).
        out: the JSONL file to write.
        items: where items that are not text items are read (the robotics segment store).

    Raises:
        ValueError: a comparison names an item neither the store nor ``items`` holds, or a payload holds NaN or
            infinity (not JSON).
    """
    rows = comparisons(store)
    with open(out, "w", encoding="utf-8") as f:
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            payload = _payloads(store, items, [i for _, q, _ in batch for i in (q.first, q.second)])
            for qid, q, target in batch:
                row = {"query_id": qid, "first_id": q.first, "second_id": q.second, "target": target,
                       "first": payload[q.first], "second": payload[q.second]}
                try:
                    f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
                except ValueError:
                    raise ValueError(f"query {qid} has an item payload with NaN or infinity, which JSON cannot hold; "
                                     "fix or drop those segments before exporting") from None
    return len(rows)


EXPORTERS: dict[str, Callable[[PreferenceStore, str | Path, ItemPayloads | None], int]] = {
    "store": export_store,
    "trl": export_trl,
    "datasets": export_datasets,
}


def export(store: PreferenceStore, out: str | Path, format: str = "store", items: ItemPayloads | None = None) -> int:
    """Export ``store`` to ``out`` in ``format`` (see the module table); returns the lines written."""
    if format not in EXPORTERS:
        raise ValueError(f"export format {format!r} is not one of {', '.join(FORMATS)}")
    return EXPORTERS[format](store, out, items)


def export_run(run_dir: str | Path, out: str | Path, format: str = "store", items: ItemPayloads | None = None) -> int:
    """Export the labels of the run in ``run_dir`` (its ``preferences.sqlite``) to ``out``.

    Args:
        run_dir: the run directory.
        out: the file to write (its folder is created).
        format: ``store``, ``trl`` or ``datasets``.
        items: for robot runs with ``format=datasets``, the segment store
            (``SegmentStore(RunPaths(run_dir).segments)``); text items are read from the run's store.

    Returns:
        The number of lines written.
    """
    path = RunPaths(Path(run_dir)).store
    if not path.is_file():
        raise FileNotFoundError(f"no preference store at {path}; pass the run directory a loop or `lm reward` wrote")
    if format not in EXPORTERS:  # before anything is created
        raise ValueError(f"export format {format!r} is not one of {', '.join(FORMATS)}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with PreferenceStore(path) as store:
        return export(store, out, format, items)


def import_jsonl(run_dir: str | Path, path: str | Path) -> int:
    """Load a ``store`` export into the run in ``run_dir``, which must hold no data yet; returns the judgments.

    The run directory and its store are created when missing. Items, queries and judgments keep their ids, so
    exporting the new run gives the same file back.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no export at {path}; write one with format=store")
    with PreferenceStore(RunPaths(Path(run_dir)).store) as store:
        return store.import_jsonl(path)


def _payloads(store: PreferenceStore, items: ItemPayloads | None, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Item id → JSON-ready payload: text items from the store, the rest from ``items``."""
    unique = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {i: item.payload() for i, item in store.find_items(unique).items()}
    rest = [i for i in unique if i not in out]
    if rest:
        if items is None:
            raise ValueError(f"items {rest[:3]} are not text items in {store.path}; for a robot run pass "
                             "items=SegmentStore(<run>/segments) so their arrays can be read")
        try:
            found = items.payloads(rest)
        except KeyError as err:
            raise ValueError(f"an item of a stored comparison is missing from the item store: {err}") from None
        out.update({i: _json_ready(p) for i, p in zip(rest, found, strict=True)})
    return out


def _json_ready(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in payload.items()}


def _write_jsonl(out: str | Path, lines: Sequence[Mapping[str, Any]]) -> None:
    with open(out, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
