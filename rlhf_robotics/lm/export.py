"""Export of the LM comparisons in TRL's explicit-prompt preference format (``prompt``/``chosen``/``rejected``).

TRL's trainers have no ties, so ties, ``cant_tell`` and ``skip`` are left out (the store keeps them).
"""

from __future__ import annotations

import json
from pathlib import Path

from rlhf_robotics.preference import PreferenceStore, aggregate_targets


def export_trl_preferences(store_path: str | Path, out: str | Path) -> int:
    """Write one ``{"prompt", "chosen", "rejected"}`` JSON line per decisive comparison; returns the count."""
    if not Path(store_path).is_file():
        raise FileNotFoundError(f"no preference store at {store_path}; run `rlhf-robotics lm reward` first")
    n = 0
    with PreferenceStore(store_path) as store, open(out, "w", encoding="utf-8") as f:
        targets = aggregate_targets(store.judgments())
        for row in store.queries():
            texts = row.query.meta.get("texts")
            t = targets.get(row.id)
            if texts is None or t is None or t == 0.5:
                continue
            chosen, rejected = (texts["first"], texts["second"]) if t > 0.5 else (texts["second"], texts["first"])
            f.write(json.dumps({"prompt": texts["prompt"], "chosen": chosen, "rejected": rejected}) + "\n")
            n += 1
    return n
