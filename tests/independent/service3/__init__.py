"""A third independent suite for service mode (issues 4 and 11): a hostile ConductorOne and a failing Datadog around
just-in-time writes, and stops at each point of a task's life, so that no write's report is lost or says what is not
so. The real service runner in process (`tests/independent/jit/rig.py`: the Datadog connector against both fakes on
127.0.0.1); Datadog's answers are held or lost at a gate of the hostile path (`gates.py`), never timed.

- `test_closing_line.py`: the runner's closing line after a stop counts the tasks whose report was given up, at error.
- `test_reports_cut.py`: a report given up at the stop or cancelled while a FinishTask of it was out unanswered, or
  after one timed out, says it may have landed; one that waited for its token does not.
- `test_sigterm_process.py` (slow): the process under SIGTERM while a revoke waits on Datadog: exit 0, the report
  saying the change may have been made, the closing `stopped` line last.
- `test_token_races.py`: one token refresh, held or refused, racing the reports of several writes that landed.
- `test_stops.py`: a stop while a write that landed awaits its answer, or after its report was given up: the report
  and the closing line say what may be so.
"""
