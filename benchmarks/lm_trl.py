"""Reward-model and DPO training speed: rlhf_robotics.lm against TRL's RewardTrainer and DPOTrainer.

Same tiny model shape (a 2-block, 64-wide GPT: ours, and a Hugging Face GPT-2 of that shape for TRL), the same
character vocabulary and token ids, the same preference pairs (2-digit additions: the right sum chosen, the
carry-forgetting sum rejected), batch size, learning rate, number of optimiser steps and one torch thread each.
TRL runs in its own virtual environment (``benchmarks/.work/trl-venv``, created here with ``torch==2.13.0``,
``transformers`` and ``trl``), as a subprocess of this script, in the same invocation.

What is timed: ours, the whole :func:`train_ensemble` / :func:`train_dpo` call (it includes their data
preparation, deep copies and final scoring, which count against us); TRL, ``trainer.train()`` (its dataset
preparation in the constructor is not timed). Steps/s = optimiser steps / seconds; ratio = ours / TRL.

    .venv/bin/python benchmarks/lm_trl.py            # writes benchmarks/results/lm_trl.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "benchmarks" / ".work" / "trl-venv"
SHAPE = {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 32}


def ensure_trl_venv() -> Path:
    """The benchmark's own venv with torch 2.13.0 (pinned, as the main venv), transformers and trl."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import trl, transformers, torch; print(torch.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.startswith("2.13.0"):
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "transformers", "trl"], check=True)
    return python


# --------------------------------------------------------------------------------------------------------
# TRL side: runs inside the TRL venv; imports nothing from rlhf_robotics.
def trl_worker(spec_path: str, out_path: str) -> None:
    import torch

    torch.set_num_threads(1)
    from datasets import Dataset
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import (
        GPT2Config,
        GPT2ForSequenceClassification,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
    )
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    spec = json.loads(Path(spec_path).read_text())
    vocab = {tok: i for i, tok in enumerate(spec["vocab"])}
    char_level = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    char_level.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one token per character
    char_level.add_special_tokens(["<pad>", "<bos>", "<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=char_level, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>")
    config = GPT2Config(vocab_size=len(vocab), n_positions=spec["shape"]["block_size"], n_embd=spec["shape"]["n_embd"],
                        n_layer=spec["shape"]["n_layer"], n_head=spec["shape"]["n_head"], pad_token_id=0,
                        bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    common = dict(per_device_train_batch_size=spec["batch_size"], max_steps=spec["steps"], learning_rate=spec["lr"],
                  logging_steps=10**6, save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0,
                  disable_tqdm=True, seed=0, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
                  max_grad_norm=1.0)
    pairs = spec["pairs"]
    results = {}

    torch.manual_seed(0)
    rm = GPT2ForSequenceClassification(config).float()
    rm.config.num_labels = 1
    rm.score = torch.nn.Linear(config.n_embd, 1, bias=False)
    rm_data = Dataset.from_list([{"chosen_ids": p["prompt"] + p["chosen"], "rejected_ids": p["prompt"] + p["rejected"]}
                                 for p in pairs])
    out_dir = tempfile.mkdtemp()
    trainer = RewardTrainer(model=rm, args=RewardConfig(output_dir=out_dir, max_length=spec["shape"]["block_size"], **common),
                            train_dataset=rm_data, processing_class=tokenizer)
    start = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - start
    results["reward"] = {"steps": out.global_step, "seconds": seconds, "final_loss": out.training_loss}

    torch.manual_seed(0)
    policy = GPT2LMHeadModel(config).float()
    # DPOTrainer tokenises text itself (the same characters, so the same ids; no BOS, one token fewer than ours).
    dpo_data = Dataset.from_list([{"prompt": p["prompt_text"], "chosen": p["chosen_text"], "rejected": p["rejected_text"]}
                                  for p in pairs])
    import copy

    trainer = DPOTrainer(model=policy, ref_model=copy.deepcopy(policy).eval(), args=DPOConfig(output_dir=out_dir, beta=spec["beta"], loss_type=["sigmoid"],
                                                      max_length=spec["shape"]["block_size"], **common),
                         train_dataset=dpo_data, processing_class=tokenizer)
    start = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - start
    results["dpo"] = {"steps": out.global_step, "seconds": seconds, "final_loss": out.training_loss}
    import transformers
    import trl

    results["versions"] = {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__}
    Path(out_path).write_text(json.dumps(results))


# --------------------------------------------------------------------------------------------------------
# Our side.
def build_pairs(n: int, seed: int) -> list[dict[str, object]]:
    import numpy as np

    from rlhf_robotics.lm.sampling import TOKENIZER
    from rlhf_robotics.lm.tasks import TaskMix
    from rlhf_robotics.lm.tokenizer import BOS, EOS

    mix = TaskMix(["arithmetic"], n_eval=1)
    rng = np.random.default_rng(seed)
    pairs: list[dict[str, object]] = []
    for p in mix.sample(rng, n):
        wrong = mix.task(p).mistake(p, rng)
        if wrong == p.answer:
            wrong = str(int(p.answer) + 1)
        pairs.append({"prompt_text": p.prompt, "chosen_text": p.answer, "rejected_text": wrong,
                      "prompt": [BOS, *TOKENIZER.encode(p.prompt)], "chosen": [*TOKENIZER.encode(p.answer), EOS],
                      "rejected": [*TOKENIZER.encode(wrong), EOS]})
    return pairs


def run_ours(pairs: list[dict], steps: int, batch_size: int, lr: float, beta: float) -> dict[str, dict[str, float]]:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from rlhf_robotics.lm.dpo import DPOConfig, train_dpo
    from rlhf_robotics.lm.model import GPT, GPTConfig
    from rlhf_robotics.lm.reward import build_reward_ensemble
    from rlhf_robotics.lm.sampling import encode_completions
    from rlhf_robotics.preference import (
        Judgment,
        PairDataset,
        PreferenceStore,
        Query,
        RewardTrainerConfig,
        train_ensemble,
    )
    from rlhf_robotics.preference.items import TextItem

    n = len(pairs)
    if steps * batch_size % n:
        raise ValueError(f"steps·batch_size = {steps * batch_size} must be a multiple of the {n} pairs (whole epochs)")
    epochs = steps * batch_size // n
    torch.manual_seed(0)
    model = GPT(GPTConfig(**SHAPE))
    results = {}

    prompts = [p["prompt_text"] for p in pairs]
    items, _ = encode_completions(prompts + prompts, [p["chosen_text"] for p in pairs] + [p["rejected_text"] for p in pairs],
                                  SHAPE["block_size"])
    data = PairDataset(items, torch.arange(n), torch.arange(n, 2 * n), torch.ones(n))
    ensemble = build_reward_ensemble(model, 1, seed=0)
    cfg = RewardTrainerConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=0.0, regularisation="none",
                              val_fraction=0.0, bootstrap=False, noise=0.0)
    start = time.perf_counter()
    metrics = train_ensemble(ensemble, data, cfg, np.random.default_rng(0))
    results["reward"] = {"steps": epochs * -(-n // batch_size), "seconds": time.perf_counter() - start,
                         "final_loss": metrics.train_loss}

    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "p.sqlite"
        with PreferenceStore(store_path) as store:
            store.add_items([item for i, p in enumerate(pairs)
                             for item in (TextItem(f"c{i}", p["prompt_text"], p["chosen_text"]),
                                          TextItem(f"r{i}", p["prompt_text"], p["rejected_text"]))])
            qids = store.add_queries([Query(f"c{i}", f"r{i}") for i in range(len(pairs))])
            store.add_judgments([Judgment(q, "first", "teacher:benchmark") for q in qids])
        start = time.perf_counter()
        _, m = train_dpo(model, model, store_path, DPOConfig(loss="sigmoid", beta=beta, epochs=epochs, batch_size=batch_size,
                                                             lr=lr))
        results["dpo"] = {"steps": len(m.loss), "seconds": time.perf_counter() - start, "final_loss": m.loss[-1]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trl-worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side; medians are reported")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lm_trl.json"))
    args = parser.parse_args()
    if args.trl_worker:
        trl_worker(*args.trl_worker)
        return

    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    from _common import provenance

    from rlhf_robotics.lm.sampling import TOKENIZER

    python = ensure_trl_venv()
    pairs = build_pairs(args.pairs, seed=0)
    vocab = ["<pad>", "<bos>", "<eos>", *TOKENIZER.chars]
    work = ROOT / "benchmarks" / ".work" / "lm_trl"
    work.mkdir(parents=True, exist_ok=True)
    spec = {"vocab": vocab, "shape": SHAPE, "pairs": pairs, "batch_size": args.batch_size, "steps": args.steps,
            "lr": args.lr, "beta": args.beta}
    (work / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    ours_runs, trl_runs = [], []
    for _ in range(args.repeats):  # alternate, so a change in the machine's load hits both sides alike
        ours_runs.append(run_ours(pairs, args.steps, args.batch_size, args.lr, args.beta))
        subprocess.run([str(python), __file__, "--trl-worker", str(work / "spec.json"), str(work / "trl.json")],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trl_runs.append(json.loads((work / "trl.json").read_text()))

    def block(name: str) -> dict[str, object]:
        import statistics

        o_secs = [r[name]["seconds"] for r in ours_runs]
        t_secs = [r[name]["seconds"] for r in trl_runs]
        o_steps, t_steps = ours_runs[0][name]["steps"], trl_runs[0][name]["steps"]
        ours_sps, trl_sps = o_steps / statistics.median(o_secs), t_steps / statistics.median(t_secs)
        return {"ours_steps": o_steps, "ours_seconds_runs": o_secs, "ours_steps_per_second": ours_sps,
                "ours_final_loss": ours_runs[0][name]["final_loss"], "trl_steps": t_steps, "trl_seconds_runs": t_secs,
                "trl_steps_per_second": trl_sps, "trl_final_loss": trl_runs[0][name]["final_loss"],
                "steps_per_second_ratio": ours_sps / trl_sps}

    trl = trl_runs[0]

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    result = {
        "benchmark": "lm_trl",
        "what": "training optimiser steps per second, ours / TRL, same tiny GPT shape, data, batch, lr, 1 thread",
        "reward_model": block("reward"),
        "dpo": block("dpo"),
        "settings": {"repeats": args.repeats, "statistic": "median seconds over repeats", "pairs": args.pairs, "batch_size": args.batch_size, "steps": args.steps, "lr": args.lr,
                     "beta": args.beta, "model_shape": SHAPE, "torch_threads": 1},
        "trl_versions": trl["versions"],
        "load_average_at_end": load,
        "command": "python benchmarks/lm_trl.py " + " ".join(sys.argv[1:]),
        **provenance(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("reward_model", "dpo")}, indent=2))


if __name__ == "__main__":
    main()
