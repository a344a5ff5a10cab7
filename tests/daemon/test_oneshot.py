"""One-shot mode as a user runs it: `baton-datadog --api-key … --app-key …` against a Datadog (the fake)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.daemon import oneshot
from connector.daemon.progress import Progress, summary_table
from connector.daemon.settings import Settings
from tests.e2e.harness import wait_for
from tests.fakes.datadog import FakeDatadog, generate_org

API_CANARY = "canary-api-key-3e9f0c7a1b2d4e6f"
APP_CANARY = "canary-app-key-8a7b6c5d4e3f2a1b0c9d"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=120, seed=4, teams=6), api_key=API_CANARY, app_key=APP_CANARY) as server:
        yield server


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        env={**clean, "BATON_LOG_FORMAT": "json", **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sync_writes_the_file_and_prints_a_summary(fake: FakeDatadog, tmp_path: Path) -> None:
    out = tmp_path / "sync.c1z"
    done = run("--api-key", API_CANARY, "--app-key", APP_CANARY, "--base-url", fake.base_url, "--file", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    user_row = next(line for line in lines if line.startswith("user "))
    assert user_row.split()[1] == "120"
    assert any(line.startswith("Datadog requests") for line in lines)
    assert any(line.startswith("rate-limit waits") for line in lines)
    with C1ZReader(out) as reader:
        assert sum(1 for _ in reader.resources("user")) == 120
    for stream in (done.stdout, done.stderr):
        assert API_CANARY not in stream
        assert APP_CANARY not in stream


def test_env_vars_work_like_flags(fake: FakeDatadog, tmp_path: Path) -> None:
    out = tmp_path / "env.c1z"
    env = {
        "BATON_API_KEY": API_CANARY,
        "BATON_APP_KEY": APP_CANARY,
        "BATON_BASE_URL": fake.base_url,
        "BATON_FILE": str(out),
    }
    done = run(env=env)
    assert done.returncode == 0, done.stderr
    assert out.exists()


def test_rejected_app_key_is_named_and_not_printed(fake: FakeDatadog, tmp_path: Path) -> None:
    wrong = "canary-wrong-app-key-77aa88bb99cc"
    done = run("--api-key", API_CANARY, "--app-key", wrong, "--base-url", fake.base_url, "--file", str(tmp_path / "x"))
    assert done.returncode == 1
    assert "application key" in done.stderr.lower()
    assert wrong not in done.stdout + done.stderr
    assert API_CANARY not in done.stdout + done.stderr


def test_rejected_api_key_is_named(fake: FakeDatadog, tmp_path: Path) -> None:
    done = run("--api-key", "canary-wrong-api-key-1234", "--app-key", APP_CANARY, "--base-url", fake.base_url)
    assert done.returncode == 1
    assert "API key" in done.stderr
    assert "canary-wrong-api-key-1234" not in done.stdout + done.stderr


def test_missing_app_key_exits_2_naming_it() -> None:
    done = run("--api-key", API_CANARY)
    assert done.returncode == 2
    assert "--app-key (BATON_APP_KEY)" in done.stderr
    assert API_CANARY not in done.stderr


def test_unknown_site_exits_2_listing_the_valid_ones() -> None:
    done = run("--api-key", API_CANARY, "--app-key", APP_CANARY, "--site", "datadoghq.moon")
    assert done.returncode == 2
    assert "--site (BATON_SITE)" in done.stderr
    assert "ap2.datadoghq.com" in done.stderr


def interrupt(
    dd: FakeDatadog,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    sig: signal.Signals,
    what: str,
    command: tuple[str, ...] = ("-m", "connector"),
) -> tuple[int, str, str]:
    """Run one-shot against `dd`; once the fake has answered a 429 (the run now waits on it), send `sig`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    process = subprocess.Popen(
        [sys.executable, *command, "--base-url", dd.base_url, *args],
        env={**clean, "BATON_LOG_FORMAT": "json", "BATON_API_KEY": API_CANARY, "BATON_APP_KEY": APP_CANARY, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any(s.status == 429 for s in dd.requests()), timeout=60, what=what)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_sync_saves_the_partial_sync_says_so_and_leaves_no_temp_files(
    sig: signal.Signals, code: int, tmp_path: Path
) -> None:
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    out = tmp_path / "sync.c1z"
    env = {"BATON_C1Z_TEMP_DIR": str(work), "TMPDIR": str(tmp)}
    with FakeDatadog(generate_org(users=250, seed=9, teams=4), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        # The roles list answers 429 with a one-minute reset: the sync has stored users and now waits on it.
        dd.faults.force(429, path="/api/v2/roles", reset=60)
        returncode, stdout, stderr = interrupt(dd, ["--file", str(out)], env, tmp_path, sig, "the throttled roles list")
    assert returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"interrupted by {sig.name}: the unfinished sync was saved to {out}" in stderr.splitlines()[-1]
    with C1ZReader(out) as reader:
        runs = reader.sync_runs()
        assert len(runs) == 1
        assert not runs[0].finished
        assert reader.counts_by_type(runs[0].sync_id)["user"]["resources"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sync.c1z", "tmp", "work"]
    assert list(work.iterdir()) == []
    assert list(tmp.iterdir()) == []
    assert API_CANARY not in stdout + stderr

    # The next run resumes the saved sync and finishes it.
    with FakeDatadog(generate_org(users=250, seed=9, teams=4), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        done = run(
            "--base-url",
            dd.base_url,
            "--file",
            str(out),
            env={**env, "BATON_API_KEY": API_CANARY, "BATON_APP_KEY": APP_CANARY},
        )
    assert done.returncode == 0, done.stderr
    with C1ZReader(out) as reader:
        runs = reader.sync_runs()
        assert len(runs) == 1
        assert runs[0].finished


def test_sigterm_among_the_team_grants_then_a_rerun_stores_the_rows_of_a_clean_sync(tmp_path: Path) -> None:
    # The grants pages of the resumed run find their teams in the store, not in the memory of the run that was
    # stopped (issue 12), and the users walk's role grants are rebuilt: the rows are those of an unbroken sync.
    from tests.baton.test_sync_engine import rows_of

    def fake() -> FakeDatadog:
        return FakeDatadog(generate_org(users=250, seed=9, teams=4), api_key=API_CANARY, app_key=APP_CANARY)

    keys = {"BATON_API_KEY": API_CANARY, "BATON_APP_KEY": APP_CANARY}
    clean, out = tmp_path / "clean.c1z", tmp_path / "sync.c1z"
    with fake() as dd:
        assert run("--base-url", dd.base_url, "--file", str(clean), env=keys).returncode == 0
    with fake() as dd:
        team = [t for t in dd.org.teams.values() if t.members][-1]
        dd.faults.force(429, path=f"/api/v2/team/{team.id}/memberships", reset=60)
        returncode, _, stderr = interrupt(dd, ["--file", str(out)], {}, tmp_path, signal.SIGTERM, "the memberships")
    assert returncode == 143, stderr
    with fake() as dd:
        done = run("--base-url", dd.base_url, "--file", str(out), env=keys)
    assert done.returncode == 0, done.stderr
    assert "sync resumed" in done.stderr
    assert rows_of(out) == rows_of(clean)


# The command, with every c1z save refused as a read-only volume would (the store's compression step).
_SAVES_REFUSED = textwrap.dedent(
    """
    import sys
    from connector.baton.c1z import store
    from connector.baton.c1z.errors import C1ZWriteError

    def refused(db_path, c1z_path):
        raise C1ZWriteError(f"cannot write {c1z_path}: Read-only file system")

    store.compress_atomically = refused
    from connector.cli import main
    raise SystemExit(main(sys.argv[1:]))
    """
)


def test_a_signal_whose_save_fails_says_so_and_the_previous_file_is_kept(tmp_path: Path) -> None:
    """The message said "the unfinished sync was saved to FILE" whenever FILE existed: after a failed save it named
    the previous run's file as this sync's, and the next run would not resume what the user was told it would."""
    out = tmp_path / "sync.c1z"
    keys = {"BATON_API_KEY": API_CANARY, "BATON_APP_KEY": APP_CANARY}
    with FakeDatadog(generate_org(users=250, seed=9, teams=4), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        assert run("--base-url", dd.base_url, "--file", str(out), env=keys).returncode == 0
        before = out.read_bytes()
        dd.faults.force(429, path="/api/v2/roles", reset=60)
        returncode, _, stderr = interrupt(
            dd, ["--file", str(out)], {}, tmp_path, signal.SIGTERM, "the roles", command=("-c", _SAVES_REFUSED)
        )
    assert returncode == 143, stderr
    assert "Traceback" not in stderr
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(
        e["event"] == "the unfinished sync could not be saved; the file is left as it was"
        and e["error"] == f"cannot write {out}: Read-only file system"
        for e in logged
    )
    assert stderr.splitlines()[-1] == (
        f"baton-datadog: interrupted by SIGTERM: the unfinished sync was not saved; {out} is left as it was"
    )
    assert out.read_bytes() == before


def test_signal_before_the_sync_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "sync.c1z"
    with FakeDatadog(generate_org(users=5, seed=9), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        dd.faults.force(429, path="/api/v1/validate", reset=60)
        returncode, _, stderr = interrupt(dd, ["--file", str(out)], {}, tmp_path, signal.SIGTERM, "the validation")
    assert returncode == 143
    assert "interrupted by SIGTERM before the sync started; nothing was written" in stderr
    assert not out.exists()


def test_a_bad_file_is_refused_before_any_datadog_request(fake: FakeDatadog, tmp_path: Path) -> None:
    notes = tmp_path / "notes.c1z"
    notes.write_text("my notes\n")
    before = len(fake.requests())
    done = run("--api-key", API_CANARY, "--app-key", APP_CANARY, "--base-url", fake.base_url, "--file", str(notes))
    assert done.returncode == 2
    assert "setting --file (BATON_FILE)" in done.stderr.splitlines()[-1]
    assert "not a readable c1z" in done.stderr
    assert len(fake.requests()) == before
    assert notes.read_text() == "my notes\n"


@pytest.mark.parametrize(
    ("rerun_args", "changed"),
    [
        (["--sync-schedules"], "resource_types: 'role,team,user' -> 'role,schedule,team,user'"),
        (["--skip-entitlements-and-grants"], "skip_entitlements_and_grants: 'false' -> 'true'"),
        (["--site", "datadoghq.eu"], "site: 'datadoghq.com' -> 'datadoghq.eu'"),
    ],
    ids=["type-turned-on", "grants-turned-off", "other-site"],
)
def test_a_rerun_with_other_settings_starts_a_new_sync_and_says_what_changed(
    tmp_path: Path, rerun_args: list[str], changed: str
) -> None:
    # Resuming would finish the old run's plan: a file saved as complete without the schedules just turned on,
    # or with rows of two sites.
    def fake() -> FakeDatadog:
        org = generate_org(users=250, seed=9, teams=4, schedules=3)
        return FakeDatadog(org, api_key=API_CANARY, app_key=APP_CANARY)

    out = tmp_path / "sync.c1z"
    with fake() as dd:
        dd.faults.force(429, path="/api/v2/roles", reset=60)
        returncode, _, stderr = interrupt(dd, ["--file", str(out)], {}, tmp_path, signal.SIGTERM, "the roles list")
    assert returncode == 143, stderr
    assert "run again with the same settings to resume it" in stderr
    with C1ZReader(out) as reader:
        (unfinished,) = reader.sync_runs()

    keys = {"BATON_API_KEY": API_CANARY, "BATON_APP_KEY": APP_CANARY}
    with fake() as dd:
        done = run("--base-url", dd.base_url, "--file", str(out), *rerun_args, env=keys)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (warning,) = [
        r for r in records if r["event"] == "unfinished sync was started with other settings; starting a new one"
    ]
    assert warning["level"] == "warning"
    assert warning["sync_id"] == unfinished.sync_id
    assert warning["changed"] == [changed]
    assert "sync resumed" not in done.stderr
    assert API_CANARY not in done.stdout + done.stderr
    assert APP_CANARY not in done.stdout + done.stderr
    with C1ZReader(out) as reader:
        (run_,) = reader.sync_runs()
        assert run_.finished
        assert run_.sync_id != unfinished.sync_id
        counts = reader.counts_by_type(run_.sync_id)
    if "--sync-schedules" in rerun_args:
        assert counts["schedule"]["resources"] == 3


async def test_a_signal_while_the_finished_sync_is_saved_says_the_file_holds_the_finished_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A signal after every page is stored lets the save finish (sync_to_file); the last line says the file holds
    the finished sync. It used to say "the unfinished sync was saved … run again to resume it"."""
    out = tmp_path / "sync.c1z"

    async def saving(settings: Settings, syncing: asyncio.Event, progress: Progress) -> int:
        syncing.set()
        progress.sync_finished()  # what sync_to_file tells its observer before the finishing save
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()
        return 0

    monkeypatch.setattr(oneshot, "_sync", saving)
    settings = Settings(api_key="k", app_key="a", file=out)  # type: ignore[arg-type]
    assert await oneshot.run_one_shot(settings) == 143
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"baton-datadog: interrupted by SIGTERM as the sync finished: the finished sync was saved to {out}"
    )


async def test_the_line_a_signal_ends_with_shows_the_files_name_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every other closing line escapes what it quotes (`main.fail`); this one wrote `--file` as given, so a name
    holding an escape sequence acted on the operator's terminal as the run ended."""
    out = tmp_path / "sync\x1b]0;owned\x07\x1b[2J.c1z"

    async def saving(settings: Settings, syncing: asyncio.Event, progress: Progress) -> int:
        syncing.set()
        progress.sync_finished()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()
        return 0

    monkeypatch.setattr(oneshot, "_sync", saving)
    settings = Settings(api_key="k", app_key="a", file=out)  # type: ignore[arg-type]
    assert await oneshot.run_one_shot(settings) == 143
    last = capsys.readouterr().err.splitlines()[-1]
    assert "\x1b" not in last
    assert "\x07" not in last
    assert last.endswith("the finished sync was saved to " + str(out).replace("\x1b", "\\x1b").replace("\x07", "\\x07"))


def test_a_sync_with_standard_error_closed_still_writes_its_file(fake: FakeDatadog, tmp_path: Path) -> None:
    """`baton-datadog ... 2>&-` (a cron line or a supervisor that closes stderr): the sync died on
    "unexpected error: AttributeError: 'NoneType' object has no attribute 'isatty'", printed on stdout, and wrote
    nothing. A closed descriptor would also be the number the next opened file takes, so stray writes to it
    would land there: it is opened on /dev/null first."""
    out = tmp_path / "sync.c1z"
    args = ["--api-key", API_CANARY, "--app-key", APP_CANARY, "--base-url", fake.base_url, "--file", str(out)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" -m connector "$@" 2>&-', sys.executable, *args],
        env=clean,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "error" not in done.stdout
    assert any(line.startswith("Datadog requests") for line in done.stdout.splitlines())
    with C1ZReader(out) as reader:
        assert sum(1 for _ in reader.resources("user")) == 120


# A one-shot run that ends (here without a request: its sync is replaced), then a signal while asyncio's teardown
# still runs (its tasks cancelled, its executor shut down), as a pod's SIGTERM or a Ctrl-C can land after the last line.
_SIGNAL_AFTER_THE_RUN = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from connector.daemon import oneshot
    from connector.daemon.settings import Settings

    async def finished(settings, syncing, progress):
        return 0

    oneshot._sync = finished

    async def main():
        code = await oneshot.run_one_shot(Settings(api_key="k", app_key="a", file=Path(sys.argv[2])))
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        await asyncio.sleep(0.2)
        return code

    print(asyncio.run(main()))
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_after_the_run_ended_does_not_change_its_outcome(tmp_path: Path, sig: signal.Signals) -> None:
    """The run's handlers were removed as it returned, which put back the defaults for the rest of the process: a
    SIGTERM in asyncio's teardown killed a finished sync's process without a word (-15 to the caller, after "wrote
    sync file"), and a SIGINT raised KeyboardInterrupt, which the CLI reports as "interrupted by SIGINT while
    starting; nothing was written"."""
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_AFTER_THE_RUN, sig.name, str(tmp_path / "sync.c1z")],
        env={k: v for k, v in os.environ.items() if not k.startswith("BATON_")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0", "the run's own exit code"
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("held", "method", "said"),
    [
        ("/api/v1/validate", "GET", "before --grant-entitlement sent its change; Datadog was not changed"),
        ("/api/v2/roles/", "POST", "during --grant-entitlement: its request may already have reached Datadog"),
    ],
    ids=["during-the-key-check", "during-the-grant"],
)
def test_a_signal_during_a_one_shot_grant_says_whether_datadog_may_have_changed(
    tmp_path: Path, held: str, method: str, said: str
) -> None:
    """A grant or revoke stopped by SIGTERM said "interrupted while starting; nothing was written", its request
    possibly already applied: an operator took a change that may have landed for one that had not."""
    with FakeDatadog(generate_org(users=20, seed=4, teams=1), api_key=API_CANARY, app_key=APP_CANARY) as dd:
        role = next(r for r in dd.org.roles.values() if r.name == "Datadog Read Only Role")
        user = next(u for u in dd.org.users.values() if role.id not in u.role_ids and not u.disabled)
        dd.faults.force(429, path=held, method=method, reset=60)  # the call waits on it: the signal lands there
        args = ["--provisioning", "--grant-entitlement", f"role:{role.id}:member", "--grant-principal", user.id]
        returncode, stdout, stderr = interrupt(dd, args, {}, tmp_path, signal.SIGTERM, f"the held {held}")
    assert returncode == 143, stderr
    assert f"baton-datadog: interrupted by SIGTERM {said}" in stderr.splitlines()[-1]
    assert "nothing was written" not in stderr
    assert "Traceback" not in stderr
    assert API_CANARY not in stdout + stderr


def test_the_closing_table_shows_a_resumed_files_type_ids_inert() -> None:
    """A resumed sync counts the rows it read back from the file, and a crafted c1z's row may name any type: an escape
    sequence there was printed raw in the table on stdout (and acted on the terminal)."""
    hostile = "\x1b]0;owned\x07\x1b[2J"
    stats = {"resources_by_resource_type": {hostile: 1, "user": 2}, "resources": 3}
    table = summary_table(stats, requests=1, rate_limit_waits=0, waited=0.0, seconds=1.0)
    assert "\x1b" not in table
    assert "\x07" not in table
    assert "\\x1b]0;owned\\x07\\x1b[2J  " in table
    assert any(line.split() == ["user", "2", "0", "0"] for line in table.splitlines())
