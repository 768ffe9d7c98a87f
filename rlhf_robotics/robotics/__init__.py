"""The robotics track: rollouts and segments, the learned-reward VecEnv wrapper, the online preference loop,
and evaluation on the hidden true objective."""
