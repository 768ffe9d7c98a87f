"""The LM track: a tiny character-level GPT trained pretrain → SFT → reward model → PPO with KL / DPO /
GRPO / RLOO / best-of-n on synthetic tasks with exact verifiers and rubrics, on the shared preference core.

Imports only the standard library, numpy, torch and :mod:`rlhf_robotics.preference` (``transformers`` lazily,
in :mod:`rlhf_robotics.lm.hf`, only when a local Hugging Face model is asked for).
"""
