"""Checkpoints without pickle: ``weights.npz`` (a ``state_dict`` as arrays) and ``meta.json``.

``meta.json`` holds the schema version, the kind of model (``lm`` or ``reward``), the model shape, the stage's
config and metrics, and the checkpoint it was trained from — everything needed to rebuild the module.
A model loaded from a local Hugging Face directory (``model.hf_path``) stores that path in ``model``; it is
rebuilt from there and its weights are then replaced by the checkpoint's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from rlhf_robotics.lm.model import GPT, CausalLM, GPTConfig, ScalarHeadModel
from rlhf_robotics.preference import RewardEnsemble

if TYPE_CHECKING:
    from rlhf_robotics.lm.hf import HFCausalLM

SCHEMA_VERSION = 1
Kind = Literal["lm", "reward"]


def to_jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_checkpoint(
    path: str | Path,
    module: nn.Module | CausalLM,
    kind: Kind,
    model_config: Any,
    stage: str,
    config: Any = None,
    metrics: Any = None,
    parent: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``module``'s ``state_dict`` and its metadata into the directory ``path`` (created)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arrays = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    np.savez(path / "weights.npz", **arrays)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "stage": stage,
        "model": asdict(model_config),
        "config": to_jsonable(config),
        "metrics": to_jsonable(metrics),
        "parent": parent,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(to_jsonable(extra) or {}),
    }
    (path / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_meta(path: str | Path, hint: str = "") -> dict[str, Any]:
    """The checkpoint's ``meta.json``.

    Raises:
        FileNotFoundError: no checkpoint at ``path`` (``hint`` says which command writes it).
        ValueError: the schema version is not this code's.
    """
    path = Path(path)
    if not (path / "meta.json").is_file() or not (path / "weights.npz").is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path} (expected meta.json and weights.npz there)"
            + (f"; {hint}" if hint else "; run the stage that writes it first or point the path at one")
        )
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"checkpoint {path} has schema version {meta.get('schema_version')}, this code reads {SCHEMA_VERSION}")
    return meta


def _load_state(module: nn.Module, path: Path) -> None:
    with np.load(path / "weights.npz", allow_pickle=False) as data:
        state = {k: torch.from_numpy(data[k].copy()) for k in data.files}
    module.load_state_dict(state)


def _is_hf(meta: dict[str, Any]) -> bool:
    return bool(meta["model"].get("hf_path"))


def load_lm(path: str | Path, hint: str = "") -> tuple[CausalLM, dict[str, Any]]:
    """Rebuild the language model of a checkpoint of kind ``lm``; returns it (in eval mode) and its metadata."""
    meta = read_meta(path, hint)
    if meta["kind"] != "lm":
        raise ValueError(f"checkpoint {path} holds a {meta['kind']!r} model, not a language model (kind 'lm')")
    if _is_hf(meta):
        from rlhf_robotics.lm.hf import HFModelConfig, load_hf_lm

        model: GPT | HFCausalLM = load_hf_lm(HFModelConfig(**meta["model"]))
    else:
        model = GPT(GPTConfig(**meta["model"]))
    _load_state(model, Path(path))
    return model.eval(), meta


def load_reward(path: str | Path, hint: str = "") -> tuple[RewardEnsemble, dict[str, Any]]:
    """Rebuild a reward ensemble of :class:`ScalarHeadModel` members from a checkpoint of kind ``reward``."""
    meta = read_meta(path, hint)
    if meta["kind"] != "reward":
        raise ValueError(f"checkpoint {path} holds a {meta['kind']!r} model, not a reward model (kind 'reward')")
    n = int(meta["ensemble_size"])
    if _is_hf(meta):
        from rlhf_robotics.lm.hf import HFModelConfig, load_hf_lm

        lm = load_hf_lm(HFModelConfig(**meta["model"]))
        ensemble = RewardEnsemble([lm.scalar_head() for _ in range(n)])
    else:
        config = GPTConfig(**meta["model"])
        ensemble = RewardEnsemble([ScalarHeadModel(config) for _ in range(n)])
    _load_state(ensemble, Path(path))
    return ensemble.eval(), meta
