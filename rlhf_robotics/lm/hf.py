"""Any causal LM saved on local disk in place of the tiny GPT: adapters to the :class:`~rlhf_robotics.lm.model.CausalLM`
and :class:`~rlhf_robotics.lm.tokenizer.Tokenizer` protocols, so every stage runs it through the same code.

``model.hf_path=DIR`` (a directory written by ``save_pretrained``, holding the model and its tokenizer) makes the
pipeline load ``AutoModelForCausalLM`` and ``AutoTokenizer`` from ``DIR`` with ``local_files_only=True`` —
nothing is downloaded. The reward model is that model's backbone (``base_model``) with a linear scalar head read
at the last non-pad token, as for the tiny GPT.

``transformers`` (the ``lm`` extra) is imported only when a model is loaded, so the rest of the track works
without it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlhf_robotics.lm.model import last_index
from rlhf_robotics.lm.tokenizer import pad_left

PAD_TOKEN = "<|pad|>"
"""Added (and the embeddings resized) when the tokenizer has no pad token distinct from EOS and BOS."""


@dataclass
class HFModelConfig:
    """Which local model to load; ``block_size`` and ``n_embd`` are filled in from the model when loaded."""

    hf_path: str
    """Directory saved with ``save_pretrained`` (model and tokenizer)."""
    block_size: int | None = None
    """Context length in tokens (None: the model's ``max_position_embeddings`` / ``n_positions``)."""
    n_embd: int | None = None
    """Width of the hidden states (read from the model)."""

    def __post_init__(self) -> None:
        if not self.hf_path:
            raise ValueError("hf_path is empty; give a directory saved with save_pretrained")
        self.hf_path = str(Path(self.hf_path).expanduser().resolve())


class HFTokenizer:
    """The :class:`~rlhf_robotics.lm.tokenizer.Tokenizer` protocol over a Hugging Face tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError(
                f"the tokenizer {tokenizer.name_or_path!r} has no eos_token; set one (tokenizer.eos_token = ...) "
                "and save it again with save_pretrained"
            )
        pad = tokenizer.pad_token_id
        if pad is None or pad in (eos, tokenizer.bos_token_id):
            raise ValueError(
                f"the tokenizer {tokenizer.name_or_path!r} has pad id {pad}, not distinct from EOS {eos} and BOS "
                f"{tokenizer.bos_token_id}; load it with load_hf_lm, which adds {PAD_TOKEN!r}"
            )
        self.hf = tokenizer

    def __deepcopy__(self, memo: dict[int, Any]) -> HFTokenizer:
        return self  # read-only: copies of a policy share their tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @property
    def pad_id(self) -> int:
        return int(self.hf.pad_token_id)

    @property
    def bos_id(self) -> int | None:
        bos = self.hf.bos_token_id
        return None if bos is None else int(bos)

    @property
    def eos_id(self) -> int:
        return int(self.hf.eos_token_id)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``, no special tokens added."""
        return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int], stop_at_eos: bool = True) -> str:
        """Text of ``ids`` up to the first EOS; padding and special tokens are dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id and stop_at_eos:
                break
            if i != self.pad_id:
                out.append(i)
        return str(self.hf.decode(out, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def pad_left(self, rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
        return pad_left(rows, self.pad_id, length)


def _inputs(tokens: torch.Tensor, pad_id: int, block_size: int) -> dict[str, torch.Tensor]:
    """Attention mask and position ids of left-padded ``tokens`` (positions count real tokens only)."""
    if tokens.shape[1] > block_size:
        raise ValueError(
            f"sequence of {tokens.shape[1]} tokens is longer than the model's context block_size={block_size}; "
            "shorten the prompt or max_new_tokens"
        )
    mask = tokens != pad_id
    pos = (mask.long().cumsum(1) - 1).clamp_min(0)
    return {"input_ids": tokens, "attention_mask": mask.long(), "position_ids": pos}


class HFCausalLM(nn.Module):
    """A ``transformers`` causal LM as a :class:`~rlhf_robotics.lm.model.CausalLM`: left-padded ids → logits."""

    def __init__(self, model: nn.Module, tokenizer: HFTokenizer, config: HFModelConfig) -> None:
        super().__init__()
        if config.block_size is None or config.n_embd is None:
            raise ValueError(f"{config} is not resolved; load the model with load_hf_lm")
        self.hf = model
        self._tokenizer = tokenizer
        self.config = config
        self.block_size = config.block_size

    @property
    def tokenizer(self) -> HFTokenizer:
        return self._tokenizer

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        inputs = _inputs(tokens, self.tokenizer.pad_id, self.block_size)
        return self.hf(**inputs, use_cache=False).logits

    def forward_with_hidden(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and the last layer's hidden states ``(B, T, n_embd)``."""
        inputs = _inputs(tokens, self.tokenizer.pad_id, self.block_size)
        out = self.hf(**inputs, use_cache=False, output_hidden_states=True)
        return out.logits, out.hidden_states[-1]

    def scalar_head(self, head_seed: int = 0) -> HFScalarHeadModel:
        """The reward model: a copy of this model's backbone with a fresh seeded linear scalar head."""
        return HFScalarHeadModel.from_lm(self, head_seed)


class HFScalarHeadModel(nn.Module):
    """A causal LM's backbone (LM head removed) with a linear scalar head read at the last non-pad token."""

    def __init__(self, backbone: nn.Module, config: HFModelConfig, pad_id: int) -> None:
        super().__init__()
        if config.block_size is None or config.n_embd is None:
            raise ValueError(f"{config} is not resolved; load the model with load_hf_lm")
        self.backbone = backbone
        self.config = config
        self.pad_id = pad_id
        self.block_size = config.block_size
        self.head = nn.Linear(config.n_embd, 1)

    @classmethod
    def from_lm(cls, lm: HFCausalLM, head_seed: int = 0) -> HFScalarHeadModel:
        backbone = copy.deepcopy(lm.hf.base_model)
        assert isinstance(backbone, nn.Module)
        model = cls(backbone, lm.config, lm.tokenizer.pad_id)
        gen = torch.Generator().manual_seed(head_seed)
        with torch.no_grad():
            model.head.weight.normal_(0.0, 1.0 / math.sqrt(model.head.in_features + 1), generator=gen)
            model.head.bias.zero_()
        return model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        inputs = _inputs(tokens, self.pad_id, self.block_size)
        h = self.backbone(**inputs, use_cache=False).last_hidden_state  # (B, L, C)
        last = last_index(inputs["attention_mask"].bool())  # (B,)
        return self.head(h[torch.arange(len(tokens), device=tokens.device), last]).squeeze(-1)  # (B,)


def _missing(path: Path, why: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"no causal LM at {path} ({why}); give a directory saved with save_pretrained "
        "(model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)) as model.hf_path"
    )


def load_hf_lm(config: HFModelConfig | str | Path) -> HFCausalLM:
    """Load the causal LM and tokenizer saved in ``config.hf_path``, offline, in float32 and eval mode.

    A tokenizer without a pad token distinct from EOS/BOS gets :data:`PAD_TOKEN` and the embeddings are
    resized (its logit is masked when sampling and padding is never attended to). Dropout is switched off,
    as in the tiny GPT's configs.

    Raises:
        FileNotFoundError: the directory is missing or holds no model/tokenizer saved with ``save_pretrained``.
        ImportError: ``transformers`` is not installed.
    """
    if not isinstance(config, HFModelConfig):
        config = HFModelConfig(hf_path=str(config))
    path = Path(config.hf_path)
    if not path.is_dir():
        raise _missing(path, "the directory does not exist")
    if not (path / "config.json").is_file():
        raise _missing(path, "no config.json there")
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise ImportError(
            f"model.hf_path={path} needs transformers: install the LM extra, pip install -e '.[lm]'"
        ) from err
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise _missing(path, f"transformers could not load a causal LM: {err}") from err
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _missing(path, f"transformers could not load its tokenizer: {err}") from err
    if tokenizer.eos_token_id is None:
        raise ValueError(f"the tokenizer at {path} has no eos_token; set tokenizer.eos_token and save_pretrained it again")
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    if len(tokenizer) > int(model.get_input_embeddings().weight.shape[0]):  # type: ignore[index]
        model.resize_token_embeddings(len(tokenizer))
    model = model.float().eval()
    for module in model.modules():  # as the tiny GPT: dropout would bias the RL ratios and the KL at step 0
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    hf_config = model.config
    context = getattr(hf_config, "max_position_embeddings", None) or getattr(hf_config, "n_positions", None)
    block_size = config.block_size or context
    if not block_size:
        raise ValueError(f"the model at {path} states no context length; set its config.max_position_embeddings")
    resolved = replace(config, block_size=int(block_size), n_embd=int(hf_config.hidden_size))
    return HFCausalLM(model, HFTokenizer(tokenizer), resolved).eval()
