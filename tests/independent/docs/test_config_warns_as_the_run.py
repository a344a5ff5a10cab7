"""`config` warns of what the run warns of at start. README.md: `config` prints "every effective setting ... Then the
checks a run makes at start", and a run warns "as is a setting that does nothing in this run (a service-mode one such
as `--sync-interval` without `--client-id`)". `config` printed the run's warnings about unknown variables, the umask
and TMPDIR, but not the switches the run ignores (`idle_settings`: `--sync-schedules` on us2.ddog-gov.com, which has
no On-Call, `--allow-org-api-key-deletion` without `--sync-secrets`, `--sync-interval` without a client id) nor grpc's
own trace let through by `GRPC_VERBOSITY` (which carries ConductorOne's access token with `GRPC_TRACE`): its table
showed such a switch `true`, and nothing said that the run would ignore it."""

from __future__ import annotations

import os

import pytest

from connector.daemon import main
from connector.daemon.settings import load_effective
from tests.daemon.cli import run_cli_in_process

KEYS = ["--api-key", "0123456789abcdef0123456789abcdef", "--app-key", "0123456789abcdef0123456789abcdef01234567"]

# (flags, variables, words of the warning the run gives at start)
IGNORED = [
    (["--sync-schedules", "--site", "us2.ddog-gov.com"], {}, "which has no Datadog On-Call; it is ignored"),
    (["--allow-org-api-key-deletion", "-p"], {}, "does nothing without --sync-secrets; it is ignored"),
    (["--sync-service-account-application-keys"], {}, "does nothing without --sync-secrets; it is ignored"),
    (["--sync-interval", "60"], {}, "does nothing without --client-id (service mode); it is ignored"),
    (["--insecure-base-url"], {}, "does nothing without a plain-http --base-url off loopback"),
    ([], {"GRPC_VERBOSITY": "debug"}, "GRPC_VERBOSITY is DEBUG: grpc's C core writes lines of its own"),
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("BATON_", "DD_", "DATADOG_", "GRPC_"))]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("flags", "variables", "words"), IGNORED, ids=[w[:32] for _, _, w in IGNORED])
def test_config_warns_of_what_the_run_warns_of_at_start(
    flags: list[str],
    variables: dict[str, str],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    effective = load_effective([*KEYS, *flags])
    said_at_start = [w for w in [*effective.warnings, *main.start_warnings(effective.settings)] if words in w]
    assert len(said_at_start) == 1, "the run's own warning, as the pattern reads it"
    done = run_cli_in_process(*KEYS, *flags, "config", env=variables)
    assert done.returncode == 0, done.stderr
    assert f"warning: {said_at_start[0]}" in done.stderr.splitlines()


def test_a_switch_that_works_is_not_warned_about() -> None:
    flags = ["--allow-org-api-key-deletion", "-p", "--sync-secrets", "--sync-schedules"]
    assert main.start_warnings(load_effective([*KEYS, *flags]).settings) == []
    done = run_cli_in_process(*KEYS, *flags, "config")
    assert (done.returncode, done.stderr) == (0, "")
