"""Trajectory segments: fixed-length windows of a rollout with everything needed to judge, train on, and
re-render them later (observations, actions, true reward and its terms, MuJoCo qpos/qvel), and the npz
segment store that keeps them under stable ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Segments:
    """A batch of N segments of T steps from one environment.

    Step t holds the observation the policy saw, the action it took, the true reward (and its terms) it got,
    and the MuJoCo state (qpos, qvel) *at the observation* — so frame t of a re-rendered clip shows what the
    policy saw when it chose action t.
    """

    ids: list[str]
    """N stable ids (``<run-unique prefix>-<index>``)."""
    obs: np.ndarray
    """``(N, T, obs_dim)`` float32."""
    act: np.ndarray
    """``(N, T, act_dim)`` float32."""
    reward: np.ndarray
    """``(N, T)`` the hidden true reward (never shown to the reward model)."""
    qpos: np.ndarray
    """``(N, T, nq)`` MuJoCo generalised positions."""
    qvel: np.ndarray
    """``(N, T, nv)`` MuJoCo generalised velocities."""
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    """Reward terms and rubric criteria from ``info``, each ``(N, T)``."""
    env_id: str = ""
    """Gymnasium id of the environment the segments came from."""
    dt: float = 0.0
    """Simulated seconds per step (for rendering at real time)."""
    fixtures: np.ndarray | None = None
    """``(N, F)`` model parts the task placed for each segment's episode (a target, a goal; see
    :func:`~rlhf_robotics.robotics.physics.moves_fixtures`), so clips show them where they were; None for tasks
    that place none."""

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("obs", "act", "reward", "qpos", "qvel"):
            arr = getattr(self, name)
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} segments but there are {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def length(self) -> int:
        """T, steps per segment."""
        return int(self.reward.shape[1])

    def features(self) -> np.ndarray:
        """``(N, T, obs_dim + act_dim)`` reward-model inputs: observation ⊕ action per step."""
        return np.concatenate([self.obs, self.act], axis=-1).astype(np.float32)

    def returns(self) -> np.ndarray:
        """``(N,)`` true return of each segment."""
        return self.reward.sum(-1)

    def take(self, index: Sequence[int] | np.ndarray) -> Segments:
        index = np.asarray(index, dtype=np.int64)
        return Segments(
            ids=[self.ids[i] for i in index],
            obs=self.obs[index], act=self.act[index], reward=self.reward[index],
            qpos=self.qpos[index], qvel=self.qvel[index],
            terms={k: v[index] for k, v in self.terms.items()},
            env_id=self.env_id, dt=self.dt, fixtures=None if self.fixtures is None else self.fixtures[index],
        )

    @staticmethod
    def concatenate(parts: Sequence[Segments]) -> Segments:
        if not parts:
            raise ValueError("nothing to concatenate")
        keys = set(parts[0].terms)
        return Segments(
            ids=[i for p in parts for i in p.ids],
            obs=np.concatenate([p.obs for p in parts]), act=np.concatenate([p.act for p in parts]),
            reward=np.concatenate([p.reward for p in parts]),
            qpos=np.concatenate([p.qpos for p in parts]), qvel=np.concatenate([p.qvel for p in parts]),
            terms={k: np.concatenate([p.terms[k] for p in parts]) for k in keys if all(k in p.terms for p in parts)},
            env_id=parts[0].env_id, dt=parts[0].dt,
            fixtures=(np.concatenate([p.fixtures for p in parts]) if all(p.fixtures is not None for p in parts)  # type: ignore[misc]
                      else None),
        )


_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class SegmentStore:
    """Segments kept as one ``.npz`` file per batch in a folder, addressable by id.

    ``<root>/<batch>.npz`` holds the arrays; ``<root>/index.jsonl`` maps each id to its batch and row. Files
    are written once and never changed.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[str, int]] = {}
        self._cache: dict[str, Segments] = {}
        index = self.root / "index.jsonl"
        if index.exists():
            for line in index.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self._index[row["id"]] = (row["batch"], row["row"])

    def __contains__(self, segment_id: str) -> bool:
        return segment_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def ids(self) -> list[str]:
        return list(self._index)

    def save(self, batch: str, segments: Segments) -> Path:
        """Write a batch under the name ``batch`` (letters, digits, ``_.-``); ids must be new."""
        if not _NAME.match(batch):
            raise ValueError(f"batch name {batch!r} may only hold letters, digits, '_', '.' and '-'")
        path = self.root / f"{batch}.npz"
        if path.exists():
            raise ValueError(f"segment batch {path} already exists; segment files are never overwritten")
        clash = [i for i in segments.ids if i in self._index]
        if clash:
            raise ValueError(f"segment ids already stored: {clash[:3]}")
        arrays: dict[str, np.ndarray] = {f"term__{k}": v for k, v in segments.terms.items()}
        arrays.update(ids=np.array(segments.ids), obs=segments.obs, act=segments.act, reward=segments.reward,
                      qpos=segments.qpos, qvel=segments.qvel, env_id=np.array(segments.env_id), dt=np.array(segments.dt))
        if segments.fixtures is not None:
            arrays["fixtures"] = segments.fixtures
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, allow_pickle=False, **arrays)
        tmp.replace(path)
        with open(self.root / "index.jsonl", "a", encoding="utf-8") as f:
            for row, sid in enumerate(segments.ids):
                f.write(json.dumps({"id": sid, "batch": batch, "row": row}) + "\n")
                self._index[sid] = (batch, row)
        self._cache[batch] = segments
        return path

    def load_batch(self, batch: str) -> Segments:
        if batch not in self._cache:
            with np.load(self.root / f"{batch}.npz") as z:
                self._cache[batch] = Segments(
                    ids=[str(i) for i in z["ids"]], obs=z["obs"], act=z["act"], reward=z["reward"],
                    qpos=z["qpos"], qvel=z["qvel"],
                    terms={k[len("term__"):]: z[k] for k in z.files if k.startswith("term__")},
                    env_id=str(z["env_id"]), dt=float(z["dt"]), fixtures=z["fixtures"] if "fixtures" in z.files else None,
                )
        return self._cache[batch]

    def payloads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """``{"obs": (T, obs_dim), "action": (T, act_dim), "true_reward": (T,)}`` per id, in this order: the
        :class:`~rlhf_robotics.preference.items.ItemPayloads` protocol the core's exporters read."""
        segs = self.get(ids)
        return [{"obs": segs.obs[k], "action": segs.act[k], "true_reward": segs.reward[k]} for k in range(len(segs))]

    def get(self, ids: Sequence[str]) -> Segments:
        """The segments with these ids, in this order."""
        missing = [i for i in ids if i not in self._index]
        if missing:
            raise KeyError(f"unknown segment ids {missing[:3]} in {self.root}")
        parts = [self.load_batch(self._index[i][0]).take([self._index[i][1]]) for i in ids]
        return Segments.concatenate(parts)


class SegmentFeatures:
    """Step features (``obs ⊕ action`` per step) of stored segments, kept in memory once read or saved.

    The query stage saves each asked batch through it; the reward fitter reads the labelled segments' features."""

    def __init__(self, store: SegmentStore) -> None:
        self.store = store
        self._features: dict[str, np.ndarray] = {}

    def save(self, batch: str, segments: Segments, features: np.ndarray) -> None:
        self.store.save(batch, segments)
        self._features.update(zip(segments.ids, features))

    def __getitem__(self, segment_id: str) -> np.ndarray:
        return self._features[segment_id]

    def load(self, segment_ids: Iterable[str]) -> None:
        """Read the features of these segments that are not in memory yet (one read per batch)."""
        missing = list(dict.fromkeys(sid for sid in segment_ids if sid not in self._features))
        if missing:
            got = self.store.get(missing)
            self._features.update(zip(got.ids, got.features()))

    def stack(self, segment_ids: Sequence[str]) -> np.ndarray:
        """``(len(ids), T, features)`` for these segments, reading any not in memory."""
        self.load(segment_ids)
        return np.stack([self._features[sid] for sid in segment_ids])
