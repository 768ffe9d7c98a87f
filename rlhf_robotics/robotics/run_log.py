"""What a run tells as it goes: one JSON row per round in ``metrics.jsonl`` (also to TensorBoard), and one
readable line per round in the log."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol


class Recorder(Protocol):
    """Where numbers go besides the file (the agent's TensorBoard logger)."""

    @property
    def num_timesteps(self) -> int: ...

    def record(self, row: dict[str, Any]) -> None: ...


class MetricsLog:
    """Appends rows to ``path`` with the round and the env step, and hands them to ``recorder``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, round: int, recorder: Recorder, row: dict[str, Any]) -> None:
        row = {"round": round, "step": int(recorder.num_timesteps), **row}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        recorder.record(row)

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.path.read_text().splitlines()] if self.path.exists() else []


def round_row(asked: int, total: int, metrics: Any, curve: list[dict[str, float]], fitter: Any) -> dict[str, Any]:
    """One round's record: labels asked and in total, the refit's metrics (``reward_model/…``), the policy's latest
    learning-curve point, the reward model's accuracy on gold questions and each annotator's reliability if known."""
    row: dict[str, Any] = {"labels/asked": asked, "labels/total": total}
    if metrics is not None:
        row.update({f"reward_model/{k}": v for k, v in asdict(metrics).items() if not isinstance(v, list)})
    if curve:
        row.update({k: v for k, v in curve[-1].items() if k != "step"})
    if (gold := fitter.gold_accuracy()) is not None:
        row["reward_model/gold_accuracy"] = gold
    if fitter.reliability is not None:
        row.update({f"reliability/{a}": p for a, p in fitter.reliability.reliability.items()})
    return row


def round_line(round: int, rounds: int, row: dict[str, Any]) -> str:
    """One readable line per round for the log (the whole record is in ``metrics.jsonl``)."""
    parts = [f"round {round}/{rounds}", f"labels {row.get('labels/total', 0)} (+{row.get('labels/asked', 0)})"]
    if "reward_model/val_accuracy" in row:
        parts.append(f"reward model val acc {row['reward_model/val_accuracy']:.3f}")
    if "policy/return_true" in row:
        parts.append(f"true return {row['policy/return_true']:.1f}")
    if "policy/return_learned" in row:
        parts.append(f"learned return {row['policy/return_learned']:.1f}")
    return ", ".join(parts)
