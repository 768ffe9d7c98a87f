"""The transition buffer: the most recent steps of every vector env, from which segments are cut.

Christiano et al. (2017) judge clips from the trajectories the policy is currently producing; the buffer holds
the last ``capacity`` steps of each env (a ring) and :meth:`TransitionBuffer.sample_segments` cuts windows
that never cross an episode boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlhf_robotics.robotics.segments import Segments


class TransitionBuffer:
    """Ring buffer of ``capacity`` steps per env for ``n_envs`` envs.

    Args:
        n_envs: number of vector envs.
        capacity: steps kept per env.
        obs_dim, act_dim, nq, nv: array widths.
        term_keys: names of per-step scalar ``info`` entries to keep.
        fixture_dim: length of a task's per-episode :func:`~rlhf_robotics.robotics.physics.fixture_vector`
            (0: the task moves no model part per episode, nothing is kept).
    """

    def __init__(self, n_envs: int, capacity: int, obs_dim: int, act_dim: int, nq: int, nv: int, term_keys: Sequence[str],
                 fixture_dim: int = 0) -> None:
        self.n_envs, self.capacity = n_envs, capacity
        shape = (capacity, n_envs)
        self.obs = np.zeros(shape + (obs_dim,), np.float32)
        self.act = np.zeros(shape + (act_dim,), np.float32)
        self.reward = np.zeros(shape, np.float32)
        self.qpos = np.zeros(shape + (nq,), np.float64)
        self.qvel = np.zeros(shape + (nv,), np.float64)
        self.term_keys = list(term_keys)
        self.terms = np.full(shape + (len(self.term_keys),), np.nan, np.float32)
        self.episode = np.full(shape, -1, np.int64)
        self._next_episode = np.arange(n_envs, dtype=np.int64)  # current episode id per env
        self._episode_counter = n_envs
        self.pos = 0
        self.full = False
        self.total_steps = 0
        self.fixture_dim = fixture_dim
        self.fixtures: dict[int, np.ndarray] = {}
        """Episode id → the model's fixture vector during that episode (tasks that move model parts per episode)."""

    def set_fixtures(self, env: int, vector: np.ndarray) -> None:
        """Record ``vector`` as the fixtures of env ``env``'s current episode (the next steps :meth:`add` records)."""
        self.fixtures[int(self._next_episode[env])] = np.asarray(vector, dtype=np.float64).copy()
        if len(self.fixtures) > 4 * self.n_envs + 64:  # forget episodes that have left the ring
            alive = set(np.unique(self.episode).tolist()) | set(self._next_episode.tolist())
            self.fixtures = {k: v for k, v in self.fixtures.items() if k in alive}

    def add(self, obs: np.ndarray, act: np.ndarray, reward: np.ndarray, qpos: np.ndarray, qvel: np.ndarray,
            infos: Sequence[Mapping[str, Any]], dones: np.ndarray) -> None:
        """Record one vector step: the observation the policy saw, its action, the true reward, the state at the
        observation, and the step's info terms; ``dones`` ends each env's episode after this step."""
        p = self.pos
        self.obs[p], self.act[p], self.reward[p] = obs, act, reward
        self.qpos[p], self.qvel[p] = qpos, qvel
        self.episode[p] = self._next_episode
        if self.term_keys:  # one assignment of a nested list: per-element numpy writes cost more than the step
            keys = self.term_keys
            self.terms[p] = [[np.nan if (v := info.get(key)) is None else v for key in keys] for info in infos]
        if dones.any():  # the method, not np.any: a third of the cost on this per-step path
            for j in np.flatnonzero(dones):
                self._next_episode[j] = self._episode_counter
                self._episode_counter += 1
        self.pos = (p + 1) % self.capacity
        self.full = self.full or self.pos == 0
        self.total_steps += self.n_envs

    def __len__(self) -> int:
        return (self.capacity if self.full else self.pos) * self.n_envs

    def _chronological(self, arr: np.ndarray) -> np.ndarray:
        return np.roll(arr, -self.pos, axis=0) if self.full else arr[: self.pos]

    def valid_starts(self, length: int) -> np.ndarray:
        """``(K, 2)`` (time, env) pairs in chronological index where a window of ``length`` fits in one episode."""
        ep = self._chronological(self.episode)
        if len(ep) < length:
            return np.zeros((0, 2), np.int64)
        same = ep[: len(ep) - length + 1] == ep[length - 1 :]  # ids grow per env, so equal ends ⇒ one episode
        return np.argwhere(same)

    def start_weights(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Weight of each of ``starts`` (from :meth:`valid_starts`) so that an episode's first and last steps are in
        a drawn window as often as its middle ones: as if a start were drawn alike from the ``length - 1`` steps
        before the episode to its last step, and a window reaching past either end of the episode were moved
        inside it. The window at an episode's first step then weighs ``length``, so does the one ending on its
        last step, and the others weigh 1; a step near an edge is in a window between once and twice as often as a
        middle step. With every start alike (weight 1 each), an episode's first step is in 1 of its
        ``T - length + 1`` windows and a middle step in ``length`` of them: at Reacher's 100 steps and 60-step
        clips, the reach at the start is in under a tenth of the clips a teacher compares. An edge counts only
        where the buffer holds it: the window at the ring's oldest step once the ring has wrapped, and the window
        ending on the newest step (its episode may go on), weigh 1."""
        ep = self._chronological(self.episode)
        t, env = starts[:, 0], starts[:, 1]
        first = np.where(t == 0, not self.full, ep[np.maximum(t - 1, 0), env] != ep[t, env])
        end = t + length  # the step after the window
        last = (end < len(ep)) & (ep[np.minimum(end, len(ep) - 1), env] != ep[t, env])
        return 1.0 + (length - 1) * (first.astype(np.float64) + last.astype(np.float64))

    def sample_segments(self, n: int, length: int, rng: np.random.Generator, id_prefix: str, env_id: str = "",
                        dt: float = 0.0, recent_steps: int | None = None, same_episode: float = 0.0,
                        cover_episode_edges: bool = False) -> Segments:
        """Cut ``n`` random windows of ``length`` steps (distinct starts when possible); with ``recent_steps``,
        only windows inside the last ``recent_steps`` env steps (all envs together) recorded (QPA's queries from
        recent behaviour). With ``same_episode`` > 0, each consecutive pair (segments 2k and 2k + 1) is, with that
        probability, two windows of one episode at different starts (:meth:`_pair_within_episodes`). With
        ``cover_episode_edges``, windows are drawn by :meth:`start_weights` (an episode's first and last steps are
        cut as often as its middle ones) instead of every start alike.

        Raises:
            ValueError: no episode in the buffer is ``length`` steps long; use a shorter segment or a fixed horizon.
        """
        starts = self.valid_starts(length)
        if recent_steps is not None:
            window = max(recent_steps // self.n_envs, length)  # per env, and at least one segment
            starts = starts[starts[:, 0] >= len(self) // self.n_envs - window]
        if len(starts) == 0:
            raise ValueError(
                f"no episode in the buffer is {length} steps long, so no segment can be cut; shorten the segment "
                "(env.segment_steps) or give the task a fixed horizon (env.kwargs.terminate_when_unhealthy=false)"
            )
        p = None
        if cover_episode_edges:
            w = self.start_weights(starts, length)
            p = w / w.sum()
        pick = rng.choice(len(starts), size=n, replace=len(starts) < n, p=p)
        if same_episode > 0:
            pick = self._pair_within_episodes(starts, pick, same_episode, rng)
        t0, env = starts[pick, 0], starts[pick, 1]
        t = t0[:, None] + np.arange(length)[None, :]  # (n, T)
        e = env[:, None]

        def cut(arr: np.ndarray) -> np.ndarray:
            return self._chronological(arr)[t, e]

        terms = cut(self.terms)
        fixtures = None
        if self.fixture_dim:  # a segment lies in one episode: its fixtures are that episode's
            fixtures = np.stack([self.fixtures[int(ep)] for ep in self._chronological(self.episode)[t0, env]])
        return Segments(
            ids=[f"{id_prefix}-{i}" for i in range(n)],
            obs=cut(self.obs), act=cut(self.act), reward=cut(self.reward), qpos=cut(self.qpos), qvel=cut(self.qvel),
            terms={k: terms[..., j] for j, k in enumerate(self.term_keys)}, env_id=env_id, dt=dt, fixtures=fixtures,
        )

    def _pair_within_episodes(self, starts: np.ndarray, pick: np.ndarray, p: float,
                              rng: np.random.Generator) -> np.ndarray:
        """``pick`` (indices into ``starts``) with the second of each consecutive pair moved, with probability
        ``p``, to another start in the first's episode (drawn uniformly; kept where that episode has one start)."""
        episode = self._chronological(self.episode)[starts[:, 0], starts[:, 1]]
        order = np.argsort(episode, kind="stable")
        sorted_episodes = episode[order]
        pick = pick.copy()
        for k in np.flatnonzero(rng.random(len(pick) // 2) < p):
            first = pick[2 * k]
            lo = np.searchsorted(sorted_episodes, episode[first], side="left")
            hi = np.searchsorted(sorted_episodes, episode[first], side="right")
            if hi - lo < 2:
                continue
            j = int(rng.integers(lo, hi - 1))  # hi - lo - 1 starts other than the first's
            partner = order[j]
            pick[2 * k + 1] = partner if partner != first else order[hi - 1]
        return pick

    def sample_steps(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random stored steps as (features ``(n, obs+act)``, true reward ``(n,)``)."""
        obs, act, rew = (self._chronological(a).reshape((-1,) + a.shape[2:]) for a in (self.obs, self.act, self.reward))
        idx = rng.choice(len(obs), size=min(n, len(obs)), replace=False)
        return np.concatenate([obs[idx], act[idx]], axis=-1), rew[idx]
