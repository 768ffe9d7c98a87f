"""Items, the things people and teachers judge, and the one small protocol both tracks' item stores follow.

A query names two item ids; the payloads live in the track's own item store (DESIGN §3), never in the query's
free-form ``meta``:

- LM: a :class:`TextItem` (prompt + response) kept in the run's preference store, in its ``items`` table
  (:meth:`~rlhf_robotics.preference.store.PreferenceStore.add_items`), so one SQLite file, one transaction and
  one JSONL export hold queries, judgments and the texts they compare;
- robotics: a trajectory segment in the npz ``SegmentStore`` of ``rlhf_robotics.robotics.segments``.

Exporters and other track-agnostic readers see either through :class:`ItemPayloads`.

Stores written before the item table existed carried the texts in ``Query.meta["texts"]`` as
``{"prompt", "first", "second"}``; :func:`legacy_text_items` is the one place that reads that form (the store
copies such texts into its item table when it opens an old file and when an old-style writer adds a query).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rlhf_robotics.preference.records import Query, aggregate_targets

if TYPE_CHECKING:
    from rlhf_robotics.preference.store import PreferenceStore


@dataclass(frozen=True)
class TextItem:
    """A prompt and one response to it: the LM track's item."""

    id: str
    """Stable item id, the one queries name (``Query.first`` / ``Query.second``)."""
    prompt: str
    """The prompt shown to the annotator."""
    response: str
    """The response being judged."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """JSON extras (task name, hidden gold score …); never shown to annotators."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"an item id is a non-empty string, got {self.id!r}")
        for name in ("prompt", "response"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"TextItem.{name} must be a str, got {type(getattr(self, name)).__name__}")

    def payload(self) -> dict[str, Any]:
        """What a person judges: ``{"prompt", "response"}``."""
        return {"prompt": self.prompt, "response": self.response}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "response": self.response, "meta": dict(self.meta)}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> TextItem:
        return cls(str(row["id"]), row["prompt"], row["response"], dict(row.get("meta") or {}))


@runtime_checkable
class ItemPayloads(Protocol):
    """An item store as exporters see it: payloads by id, in the order asked.

    A payload is a mapping of names to strings, numbers or numpy arrays: ``{"prompt", "response"}`` for text
    items, ``{"obs", "action", "true_reward"}`` arrays for robot segments.
    """

    def payloads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The payload of every id in ``ids`` (``KeyError`` naming the first unknown id)."""
        ...


def legacy_text_items(query: Query) -> list[TextItem]:
    """The two text items an old-style query carried in ``meta["texts"]`` (``[]`` when it carries none).

    The old form was ``meta["texts"] = {"prompt": ..., "first": <response of query.first>,
    "second": <response of query.second>}``.
    """
    texts = query.meta.get("texts")
    if not isinstance(texts, Mapping):
        return []
    prompt = str(texts.get("prompt", ""))
    return [TextItem(query.first, prompt, str(texts.get("first", ""))),
            TextItem(query.second, prompt, str(texts.get("second", "")))]


def text_comparisons(store: PreferenceStore) -> list[tuple[int, TextItem, TextItem, float]]:
    """``(query id, first item, second item, target)`` of every labelled comparison of two text items.

    The target is P(first ≻ second) from :func:`~rlhf_robotics.preference.records.aggregate_targets` (ties 0.5;
    queries answered only ``cant_tell``/``skip`` have none and are left out), in query id order.
    """
    targets = aggregate_targets(store.judgments())
    queries = [sq for sq in store.queries() if sq.id in targets]
    texts = store.find_items([i for sq in queries for i in (sq.query.first, sq.query.second)])
    return [(sq.id, texts[sq.query.first], texts[sq.query.second], targets[sq.id]) for sq in queries
            if sq.query.first in texts and sq.query.second in texts]
