"""``rlhf-robotics gallery``: a short clip of every suite task and a contact sheet under ``videos/gallery/``."""

from __future__ import annotations

from rlhf_robotics.robotics.gallery import main as gallery_main


def main(argv: list[str]) -> int:
    return gallery_main(argv)
