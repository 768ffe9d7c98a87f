"""``rlhf-robotics lm <command> [hydra overrides]``: the LM track's stages from the ``conf/lm`` configs.

Commands: ``pipeline`` (every stage in ``stages``, then the table), one stage (``pretrain``, ``sft``,
``reward``, ``ppo``, ``dpo``, ``grpo``, ``rloo``, ``best_of_n``), ``table`` (print the table of a run) and
``export`` (the run's comparisons in TRL's preference format, ``trl_preferences.jsonl``). Overrides are
Hydra's: ``rlhf-robotics lm pipeline run_dir=runs/lm1 grpo.steps=50 dpo=ipo experiment=smoke``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

COMMANDS = ("pipeline", "table", "export")


def config_dir() -> Path:
    """``conf/lm`` of the source tree (``RLHF_ROBOTICS_CONF`` overrides the ``conf`` folder)."""
    root = Path(os.environ.get("RLHF_ROBOTICS_CONF", Path(__file__).resolve().parents[2] / "conf"))
    path = root / "lm"
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"no LM configs at {path}; set RLHF_ROBOTICS_CONF to the repository's conf folder")
    return path


def compose(overrides: list[str]) -> Any:
    """The composed ``DictConfig`` of ``conf/lm/config.yaml`` with ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def to_lm_config(cfg: Any) -> Any:
    """Typed :class:`rlhf_robotics.lm.pipeline.LMConfig` from the composed config (the only Hydra contact)."""
    from omegaconf import OmegaConf

    from rlhf_robotics.lm.dpo import DPOConfig
    from rlhf_robotics.lm.grpo import GRPOConfig
    from rlhf_robotics.lm.pipeline import EvalConfig, LMConfig
    from rlhf_robotics.lm.ppo import PPOConfig
    from rlhf_robotics.lm.pretrain import PretrainConfig, model_config
    from rlhf_robotics.lm.reward import RewardConfig
    from rlhf_robotics.lm.sft import SFTConfig

    d = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(d, dict)
    return LMConfig(
        run_dir=d["run_dir"],
        stages=tuple(d["stages"]),
        pretrain=PretrainConfig(model=model_config(d["model"]), **d["pretrain"]),
        sft=SFTConfig(**d["sft"]),
        reward=RewardConfig(**d["reward"]),
        ppo=PPOConfig(**d["ppo"]),
        dpo=DPOConfig(**d["dpo"]),
        grpo=GRPOConfig(**d["grpo"]),
        rloo=GRPOConfig(**d["rloo"]),
        eval=EvalConfig(**d["eval"]),
    )


def plot_run(run_dir: str | Path) -> list[Path]:
    """Gold score against KL from SFT per stage, and PPO's proxy-versus-gold curve, as PNGs in ``run_dir``."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlhf_robotics.lm.pipeline import collect_table

    run_dir = Path(run_dir)
    written = []
    rows = [r for r in collect_table(run_dir) if r.get("kl_from_sft") is not None]
    if rows:
        fig, ax = plt.subplots(figsize=(5, 4))
        for r in rows:
            ax.scatter(r["kl_from_sft"], r["gold"])
            ax.annotate(r["stage"], (r["kl_from_sft"], r["gold"]))
        ax.set_xlabel("KL(π ‖ π_SFT) per response (nats)")
        ax.set_ylabel("gold score (held-out)")
        fig.tight_layout()
        fig.savefig(run_dir / "gold_vs_kl.png", dpi=120)
        plt.close(fig)
        written.append(run_dir / "gold_vs_kl.png")
    ppo = run_dir / "ppo" / "metrics.json"
    if ppo.is_file():
        m = json.loads(ppo.read_text(encoding="utf-8"))

        def smooth(xs: list[float], k: int = 5) -> list[float]:
            return [sum(xs[max(0, i - k + 1) : i + 1]) / len(xs[max(0, i - k + 1) : i + 1]) for i in range(len(xs))]

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(smooth(m["score"]), label="proxy: reward-model score (normalised)")
        ax.plot(smooth(m["gold"]), label="gold score")
        ax.set_xlabel("PPO iteration")
        ax.set_ylabel("score (moving average of 5)")
        kl_ax = ax.twinx()
        kl_ax.plot(smooth(m["kl"]), color="grey", linestyle="--", label="KL from SFT")
        kl_ax.set_ylabel("KL(π ‖ π_SFT) per response (nats)")
        ax.legend(loc="lower right")
        kl_ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(run_dir / "ppo_overoptimisation.png", dpi=120)
        plt.close(fig)
        written.append(run_dir / "ppo_overoptimisation.png")
    return written


def main(argv: list[str]) -> int:
    from rlhf_robotics.lm.pipeline import STAGES, collect_table, format_table, run_pipeline, run_stage

    if not argv or argv[0] in ("-h", "--help") or argv[0] not in (*STAGES, *COMMANDS):
        print(__doc__)
        print("commands: " + ", ".join((*COMMANDS, *STAGES)))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, overrides = argv[0], argv[1:]
    cfg = compose(overrides)
    import torch

    torch.set_num_threads(int(cfg.threads))
    config = to_lm_config(cfg)
    start = time.perf_counter()
    if command == "table":
        rows = collect_table(config.run_dir)
        if not rows:
            print(f"no evaluated stages under {config.run_dir}; run `rlhf-robotics lm pipeline run_dir=...` first",
                  file=sys.stderr)
            return 1
        print(format_table(rows))
        return 0
    if command == "export":
        from rlhf_robotics.preference.export import export_run

        out = Path(config.run_dir) / "trl_preferences.jsonl"
        n = export_run(config.run_dir, out, "trl")
        print(f"wrote {n} comparisons to {out}")
        return 0
    try:
        if command == "pipeline":
            def log(stage: str, row: dict[str, Any]) -> None:
                print(f"[{time.perf_counter() - start:7.1f}s] {stage} done", flush=True)

            run_pipeline(config, log)
        else:
            run_stage(config, command)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    rows = collect_table(config.run_dir)
    print(format_table(rows))
    for path in plot_run(config.run_dir):
        print(f"plot: {path}")
    wall = time.perf_counter() - start
    print(f"wall time: {wall:.1f} s (torch threads: {cfg.threads})")
    if command == "pipeline":
        import json

        summary = {"command": "rlhf-robotics lm pipeline " + " ".join(overrides), "wall_seconds": wall,
                   "torch_threads": int(cfg.threads), "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
                   "table": [{k: v for k, v in r.items() if k != "examples"} for r in rows]}
        reward = Path(config.run_dir) / "reward" / "metrics.json"
        if reward.is_file():
            summary["reward_model"] = json.loads(reward.read_text(encoding="utf-8"))
        (Path(config.run_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0
