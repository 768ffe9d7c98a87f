"""RESULTS.md's section for benchmarks/annotator_reliability.py, from a fake results file."""

from __future__ import annotations

from types import ModuleType

FAKE = {
    "benchmark": "annotator_reliability", "command": "python benchmarks/annotator_reliability.py", "runs": 4,
    "annotators_true_error": {"oracle": 0.0, "random": 0.5},
    "normalized_score": {
        "halfcheetah/equal": {"seeds": [0, 1], "normalized_score": [0.5, 0.7], "iqm": 0.6, "ci95": [0.5, 0.7],
                              "labels_used": [120, 118]},
        "halfcheetah/dawid_skene": {"seeds": [0, 1], "normalized_score": [0.8, 0.9], "iqm": 0.85,
                                    "ci95": [0.8, 0.9], "labels_used": [120, 120]},
    },
    "estimated_reliability_all_runs": {"oracle": [0.98, 0.96, 0.97, 0.99], "random": [0.5, 0.52, None, 0.48]},
    "order_recovered_runs": 4, "commit": "0123456789abc", "machine": {"cpu": "Test CPU", "cores": 2},
    "date": "2026-12-01T16:00:00+00:00",
}


def test_section_tables_arms_and_estimates(make_results: ModuleType) -> None:
    text = make_results.render(None, [], None, [], reliability=[FAKE, {**FAKE, "overlap": [1]}])
    assert "## Annotators of mixed quality: a reliability model against equal weights (2 answers per pair)" in text
    assert "## Annotators of mixed quality: a reliability model against equal weights (1 answer per pair)" in text
    assert "each pair goes to one of them" in text
    assert "Figure: `benchmarks/results/annotator_reliability.png`" in text
    assert "Figure: `benchmarks/results/annotator_reliability_overlap1.png`" in text
    assert "| halfcheetah/dawid_skene | 0, 1 | 0.85 [0.80, 0.90] | 0.80, 0.90 | 120, 120 |" in text
    assert "| halfcheetah/equal | 0, 1 | 0.60 [0.50, 0.70] | 0.50, 0.70 | 120, 118 |" in text
    assert "| random | 0.50 | 0.50, 0.52, 0.48 | 0.50 |" in text  # a run without an estimate is left out
    assert "matches the true order in 4 of 4 runs" in text
    assert "Reliability model minus equal weights (IQM): halfcheetah: +0.25." in text  # intervals apart: no caveat
    assert "Annotators of mixed quality" not in make_results.render(None, [], None, [])
