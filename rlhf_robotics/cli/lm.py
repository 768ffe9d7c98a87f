"""``rlhf-robotics lm <command> [overrides]``: the LM track's stages, a Hydra app over ``conf/lm``.

Commands: ``pipeline`` (every stage in ``stages``, then the table), one stage (``pretrain``, ``sft``,
``reward``, ``ppo``, ``dpo``, ``grpo``, ``rloo``, ``best_of_n``), ``table`` (print the table of a run) and
``export`` (the run's comparisons in TRL's preference format, ``trl_preferences.jsonl``). Overrides are
Hydra's, as in training: ``rlhf-robotics lm pipeline run_dir=runs/lm1 grpo.steps=50 dpo=ipo +experiment=smoke``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.cli.app import App, UsageError, conf_dir, require_extra, run_app
from rlhf_robotics.typed_config import ConfigError, from_mapping

COMMANDS = ("pipeline", "table", "export")
STAGE_NAMES = ("pretrain", "sft", "reward", "ppo", "dpo", "grpo", "rloo", "best_of_n")
"""The stages (``rlhf_robotics.lm.pipeline.STAGES``), listed here so ``--help`` needs no torch import."""


def compose(overrides: list[str]) -> DictConfig:
    """The composed ``DictConfig`` of ``conf/lm/config.yaml`` with ``overrides`` (for tests and notebooks)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir() / "lm"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def to_lm_config(cfg: DictConfig) -> Any:
    """Typed :class:`rlhf_robotics.lm.pipeline.LMConfig` from the composed config (the only Hydra contact);
    a wrong key, type or value raises :class:`ConfigError` naming it."""
    from rlhf_robotics.lm.dpo import DPOConfig
    from rlhf_robotics.lm.grpo import GRPOConfig
    from rlhf_robotics.lm.model import GPTConfig
    from rlhf_robotics.lm.pipeline import EvalConfig, LMConfig
    from rlhf_robotics.lm.ppo import PPOConfig
    from rlhf_robotics.lm.pretrain import PretrainConfig, model_config
    from rlhf_robotics.lm.reward import RewardConfig
    from rlhf_robotics.lm.sft import SFTConfig
    from rlhf_robotics.lm.tasks import check_tasks

    d = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(d, dict)
    try:  # the shared keys first, so the message names `tasks` / `difficulty.<task>`, not a stage's copy
        check_tasks(list(d["tasks"]) if isinstance(d["tasks"], list | tuple) else [str(d["tasks"])],
                    d.get("difficulty") or {})
    except ValueError as err:
        raise ConfigError(str(err)) from None
    model_dict = dict(d["model"])
    if model_dict.get("hf_path"):
        require_extra("lm", "model.hf_path (a Hugging Face model)")
    else:
        from_mapping(GPTConfig, {k: v for k, v in model_dict.items() if k != "hf_path"}, "model")  # checks keys
    try:
        model = model_config(model_dict)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model: {err}") from None
    pretrain = dataclasses.replace(from_mapping(PretrainConfig, d["pretrain"], "pretrain"), model=model)
    stages = d["stages"]
    try:
        return LMConfig(
            run_dir=str(d["run_dir"]),
            stages=tuple(stages) if isinstance(stages, list) else stages,
            pretrain=pretrain,
            sft=from_mapping(SFTConfig, d["sft"], "sft"),
            reward=from_mapping(RewardConfig, d["reward"], "reward"),
            ppo=from_mapping(PPOConfig, d["ppo"], "ppo"),
            dpo=from_mapping(DPOConfig, d["dpo"], "dpo"),
            grpo=from_mapping(GRPOConfig, d["grpo"], "grpo"),
            rloo=from_mapping(GRPOConfig, d["rloo"], "rloo"),
            eval=from_mapping(EvalConfig, d["eval"], "eval"),
        )
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"stages={stages!r}: {err}") from None


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


def lm_task(command: str, cfg: DictConfig) -> None:
    """Run ``command`` (a stage, ``pipeline``, ``table`` or ``export``) on the composed config."""
    threads = cfg.threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads={threads!r}: must be a whole number >= 1")
    config = to_lm_config(cfg)
    import torch

    from rlhf_robotics.lm.pipeline import collect_table, format_table, run_pipeline, run_stage

    torch.set_num_threads(threads)
    start = time.perf_counter()
    if command == "table":
        rows = collect_table(config.run_dir)
        if not rows:
            raise UsageError(f"run_dir={config.run_dir!r}: no evaluated stages; run "
                             "`rlhf-robotics lm pipeline run_dir=...` first")
        print(format_table(rows))
        return
    if command == "export":
        from rlhf_robotics.preference.export import export_run
        from rlhf_robotics.preference.rundir import RunPaths

        if not RunPaths(Path(config.run_dir)).store.is_file():
            raise UsageError(f"run_dir={config.run_dir!r}: holds no preferences.sqlite; run "
                             "`rlhf-robotics lm reward run_dir=...` (or the pipeline) first")
        out = Path(config.run_dir) / "trl_preferences.jsonl"
        n = export_run(config.run_dir, out, "trl")
        print(f"wrote {n} comparisons to {out}")
        return
    try:
        if command == "pipeline":
            def log(stage: str, row: dict[str, Any]) -> None:
                print(f"[{time.perf_counter() - start:7.1f}s] {stage} done", flush=True)

            run_pipeline(config, log)
        else:
            run_stage(config, command)
    except (FileNotFoundError, ValueError) as err:  # a missing earlier stage or model: the message says which
        raise UsageError(str(err)) from None
    rows = collect_table(config.run_dir)
    print(format_table(rows))
    for path in plot_run(config.run_dir):
        print(f"plot: {path}")
    wall = time.perf_counter() - start
    print(f"wall time: {wall:.1f} s (torch threads: {threads})")
    if command == "pipeline":
        import json

        summary = {"command": "rlhf-robotics lm pipeline " + " ".join(sys.argv[1:]), "wall_seconds": wall,
                   "torch_threads": threads, "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
                   "table": [{k: v for k, v in r.items() if k != "examples"} for r in rows]}
        reward = Path(config.run_dir) / "reward" / "metrics.json"
        if reward.is_file():
            summary["reward_model"] = json.loads(reward.read_text(encoding="utf-8"))
        (Path(config.run_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


USAGE = """
rlhf-robotics lm pipeline +experiment=smoke run_dir=runs/lm_smoke     # every stage in seconds, then the table
rlhf-robotics lm pipeline run_dir=runs/lm1 grpo.steps=50 dpo=ipo      # the default recipe, changed
rlhf-robotics lm sft run_dir=runs/lm1                                 # one stage (its parent must be done)
rlhf-robotics lm table run_dir=runs/lm1                               # the results table of a run
rlhf-robotics lm export run_dir=runs/lm1                              # comparisons in TRL's format
# the lm commands: """ + ", ".join((*COMMANDS, *STAGE_NAMES))


def app(command: str) -> App:
    """The Hydra app of ``rlhf-robotics lm <command>``."""
    return App(command=f"lm {command}", config_name="config", task=functools.partial(lm_task, command),
               summary="the LM track: a tiny GPT through pretrain → SFT → reward model → PPO / DPO / GRPO / RLOO",
               usage=USAGE, conf_subdir="lm", groups=None)


def main(argv: list[str]) -> int:
    names = (*COMMANDS, *STAGE_NAMES)
    if argv and argv[0] in names:
        return run_app(app(argv[0]), argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        return run_app(app("pipeline"), ["--help"])
    given = f"got {argv[0]!r}" if argv else "got none"
    print(f"error: rlhf-robotics lm needs a command first, one of {', '.join(names)} ({given}); "
          "e.g. rlhf-robotics lm pipeline +experiment=smoke", file=sys.stderr)
    return 2
