"""A one-minute seeded soak (benchmarks/soak.py): a steady mix of tasks under random Datadog and ConductorOne faults,
and every invariant the soak checks holds at the end. The long runs are by hand (`--minutes 10`,
docs/service-mode.md "Soak"); this one keeps the checker itself honest and catches what a minute of faults shows.
"""

from __future__ import annotations

from benchmarks.soak import run


def test_a_minute_of_tasks_under_seeded_faults_breaks_no_invariant() -> None:
    result = run(1.0, seed=101)
    assert result["tasks"], "the feeder enqueued tasks"
    assert result["violations"] == [], f"{result['violations']}\n{result['log_tail']}"
