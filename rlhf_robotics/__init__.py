"""rlhf_robotics: reinforcement learning from human feedback in MuJoCo, with an LM track on the same core."""

__version__ = "0.1.0"
