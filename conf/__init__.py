"""Hydra configs of rlhf_robotics, installed as the package ``rlhf_robotics.conf`` (``pkg://rlhf_robotics.conf``).

This file holds no code. It exists because setuptools' editable install cannot map a namespace package nested
in a regular one: without it ``import rlhf_robotics.conf`` (and so Hydra's ``pkg://`` search path) fails in a
checkout installed with ``pip install -e .``. Everything else in ``conf/`` is YAML.
"""
