"""Made-up job results for the benchmark tests."""

from __future__ import annotations


def fake_run(arm: str, env_id: str, labels: int | None, teacher: str | None, seed: int, ret: float, wall: float,
             steps: int = 102_400) -> dict[str, object]:
    """A job result as ``label_efficiency.run_job`` writes it, with made-up figures."""
    env, version = env_id.split("-")
    key = f"{arm}_{env_id}_{labels if labels is not None else 'na'}_{teacher or 'na'}_seed{seed}"
    return {
        "job": {"arm": arm, "env": env, "version": version, "labels": labels, "teacher": teacher, "seed": seed},
        "key": key, "command": "python benchmarks/label_efficiency.py --only seed=0", "env_id": env_id, "env_kwargs": {},
        "steps": steps, "eval_episodes": 10, "return_true": {"mean": ret, "std": 1.0, "episodes": 10},
        "labels_used": labels or 0, "policy_env_steps": steps, "wall_seconds": wall, "job_wall_seconds": wall + 5,
        "job_cpu_seconds": wall + 4, "commit": "0123456789abcdef", "working_tree_dirty": False,
        "machine": {"cpu": "Test CPU", "cores": 2, "platform": "Linux", "python": "3.11", "torch": "2.13"},
        "date": f"2026-11-27T05:0{seed}:00+00:00",
    }
