"""The character tokenizer: a fixed vocabulary, so every checkpoint of every stage reads the same ids.

Id 0 is padding, 1 begins a sequence, 2 ends a response. Sequences are *left*-padded (``PAD`` first), so the
last token of every row is at the last position; the mask ``tokens != PAD`` is all the model needs.

:class:`Tokenizer` is what the stages ask of a tokenizer; :class:`CharTokenizer` implements it, and so does
:class:`rlhf_robotics.lm.hf.HFTokenizer` over a Hugging Face tokenizer loaded from a local directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

PAD, BOS, EOS = 0, 1, 2
CHARS = "0123456789+-*=,:;|<>()?. abcdefghijklmnopqrstuvwxyz\n"


@runtime_checkable
class Tokenizer(Protocol):
    """What the stages need of a tokenizer: text ↔ ids, the special ids and left padding.

    Every sequence is ``[pad …][bos][prompt][response][eos]``; ``bos_id`` may be None (no BOS is prepended).
    ``pad_id`` must differ from every id of real text (``eos_id`` included): ``tokens != pad_id`` is the mask.
    """

    @property
    def vocab_size(self) -> int: ...

    @property
    def pad_id(self) -> int: ...

    @property
    def bos_id(self) -> int | None: ...

    @property
    def eos_id(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int], stop_at_eos: bool = True) -> str: ...

    def pad_left(self, rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor: ...


def pad_left(rows: Sequence[Sequence[int]], pad_id: int, length: int | None = None) -> torch.Tensor:
    """Left-pad id lists with ``pad_id`` into a ``(B, L)`` long tensor (``L`` = the longest row unless given).

    Raises:
        ValueError: a row is longer than ``length``.
    """
    longest = max((len(r) for r in rows), default=0)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(f"a sequence of {longest} tokens does not fit in {length}; raise the length")
    out = torch.full((len(rows), length), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        if len(r):
            out[i, length - len(r) :] = torch.as_tensor(list(r), dtype=torch.long)
    return out


@dataclass(frozen=True)
class CharTokenizer:
    """Maps text to ids and back over :data:`CHARS` plus ``PAD``, ``BOS`` and ``EOS``."""

    chars: str = CHARS
    """The characters, in id order after the three special ids."""

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars):
            raise ValueError(f"tokenizer characters must be unique, got {self.chars!r}")

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 3

    @property
    def pad_id(self) -> int:
        return PAD

    @property
    def bos_id(self) -> int | None:
        return BOS

    @property
    def eos_id(self) -> int:
        return EOS

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``, no special tokens added.

        Raises:
            ValueError: ``text`` holds a character outside the vocabulary.
        """
        table = {c: i + 3 for i, c in enumerate(self.chars)}
        try:
            return [table[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} in {text!r} is not in the tokenizer's vocabulary {self.chars!r}; "
                "lower-case the text or extend CHARS (which changes every checkpoint's vocabulary)"
            ) from None

    def decode(self, ids: Sequence[int], stop_at_eos: bool = True) -> str:
        """Text of ``ids``; special ids are dropped and decoding stops at the first ``EOS``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS and stop_at_eos:
                break
            if i >= 3:
                out.append(self.chars[i - 3])
        return "".join(out)

    def pad_left(self, rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
        """Left-pad id lists into a ``(B, L)`` long tensor (``L`` = the longest row unless given).

        Raises:
            ValueError: a row is longer than ``length``.
        """
        return pad_left(rows, PAD, length)
