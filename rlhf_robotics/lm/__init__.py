"""The LM track: a tiny character-level GPT trained pretrain → SFT → reward model → PPO with KL / DPO /
GRPO / RLOO / best-of-n on synthetic tasks with exact verifiers and rubrics, on the shared preference core.

Run it::

    rlhf-robotics lm pipeline run_dir=runs/lm          # every stage, then the table (exact match, gold, KL)
    rlhf-robotics lm grpo run_dir=runs/lm grpo.steps=100  # one stage, reading runs/lm/sft
    rlhf-robotics lm export run_dir=runs/lm            # the comparisons in TRL's preference format

One module per stage (:mod:`~rlhf_robotics.lm.pretrain`, :mod:`~rlhf_robotics.lm.sft`,
:mod:`~rlhf_robotics.lm.reward`, :mod:`~rlhf_robotics.lm.ppo`, :mod:`~rlhf_robotics.lm.dpo`,
:mod:`~rlhf_robotics.lm.grpo`, :mod:`~rlhf_robotics.lm.best_of_n`), composed by
:mod:`~rlhf_robotics.lm.pipeline`. Imports only the standard library, numpy, torch and
:mod:`rlhf_robotics.preference` (a test enforces it).

Any causal LM saved on local disk replaces the tiny GPT through the same stages (``model.hf_path=DIR``): the
stages ask only for the :class:`~rlhf_robotics.lm.model.CausalLM` and :class:`~rlhf_robotics.lm.tokenizer.Tokenizer`
protocols, which :mod:`~rlhf_robotics.lm.hf` implements over ``transformers`` (imported when a model is loaded).
"""
