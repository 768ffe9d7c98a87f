"""Exports of a run's labels: the whole store as lossless JSONL, or LM pairs in TRL's preference format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, get_args

from rlhf_robotics.preference.records import aggregate_targets
from rlhf_robotics.preference.store import PreferenceStore

ExportFormat = Literal["store", "trl"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)


def export_trl(store: PreferenceStore, path: str | Path) -> int:
    """Write one ``{"prompt", "chosen", "rejected"}`` line per decided text pair; returns the line count.

    The target of each query comes from :func:`~rlhf_robotics.preference.records.aggregate_targets` (current
    judgments, ``cant_tell``/``skip`` left out). TRL's reward and DPO trainers have no ties, so queries whose
    target is exactly 0.5 are left out, as TRL's documentation advises.

    Raises:
        ValueError: the store holds no text pairs (``meta["texts"]``); export robotics runs with ``format=store``.
    """
    queries = {sq.id: sq.query for sq in store.queries()}
    text_ids = {qid for qid, q in queries.items() if isinstance(q.meta.get("texts"), dict)}
    if not text_ids:
        raise ValueError(f"{store.path} has no text pairs (meta['texts']); use format=store for clip comparisons")
    lines = []
    for qid, target in sorted(aggregate_targets(store.judgments()).items()):
        if qid not in text_ids or target == 0.5:
            continue
        texts = queries[qid].meta["texts"]
        chosen, rejected = ("first", "second") if target > 0.5 else ("second", "first")
        lines.append({"prompt": texts.get("prompt", ""), "chosen": texts[chosen], "rejected": texts[rejected],
                      "query_id": qid, "target": target})
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return len(lines)


def export(store: PreferenceStore, path: str | Path, format: str = "store") -> int:
    """Export ``store`` to ``path`` in ``format`` (``store``: every query and judgment; ``trl``: text pairs)."""
    if format == "store":
        return store.export_jsonl(path)
    if format == "trl":
        return export_trl(store, path)
    raise ValueError(f"export format {format!r} is not one of {', '.join(FORMATS)}")
