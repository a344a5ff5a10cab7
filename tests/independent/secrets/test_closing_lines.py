"""The closing line of an interrupted one-shot run goes through the redactor as every other closing line does
(`main.fail`): it names `--file` as given, and a file named after a secret of the run (its key, as a pod's script may
name its output) was printed whole, while the log line beside it was redacted. Only a process shows it: the line is
written after a signal."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.daemon.test_oneshot import API_CANARY, APP_CANARY, interrupt
from tests.fakes.datadog import FakeDatadog, generate_org


def test_an_interrupted_runs_closing_line_never_names_a_secret_the_file_name_holds(tmp_path: Path) -> None:
    out = tmp_path / f"backup-{API_CANARY}.c1z"
    with FakeDatadog(generate_org(users=250, seed=9, teams=4), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        dd.faults.force(429, path="/api/v2/roles", reset=60)  # the sync waits on it: a signal finds it mid-sync
        returncode, stdout, stderr = interrupt(dd, ["--file", str(out)], {}, tmp_path, signal.SIGTERM, "the roles")
    assert returncode == 143, stderr
    closing = stderr.splitlines()[-1]
    assert closing.startswith("baton-datadog: interrupted by SIGTERM: the unfinished sync was saved to "), closing
    assert "backup-[REDACTED].c1z" in closing
    assert API_CANARY not in stdout + stderr
    assert out.exists()
