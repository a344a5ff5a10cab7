"""What a user controls locally (flags, BATON_* variables, the --config file): each value at its edges is read as
the README says, or refused in one line naming the setting, exit 2; never an unexpected error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.daemon.cli import KEYS, last_line, run_cli, run_cli_in_process

API = "canary-api-key-71d0c2e9a4b3"
APP = "canary-app-key-3f5a8e1d7c20"
# Nothing listens here: a run that got past its settings would fail as exit 1, naming Datadog.
OFFLINE = {"BATON_API_KEY": API, "BATON_APP_KEY": APP, "BATON_BASE_URL": "http://127.0.0.1:1"}


@pytest.mark.parametrize(
    ("yaml", "named"),
    [
        # File names: "unexpected error: ValueError: embedded null byte", exit 1, the setting unnamed.
        ('file: "out\\0.c1z"\n', "--file (BATON_FILE)"),
        ('c1z-temp-dir: "/tmp\\0x"\n', "--c1z-temp-dir (BATON_C1Z_TEMP_DIR)"),
        ('ca-bundle: "ca\\0.pem"\n', "--ca-bundle (BATON_CA_BUNDLE)"),
        # Ids: taken, and sent to Datadog as part of a request path.
        ('sync-resources: ["role:a\\0b"]\n', "--sync-resources (BATON_SYNC_RESOURCES)"),
        ('provisioning: true\nrevoke-grant: "role:r\\0:member:user:u"\n', "--revoke-grant (BATON_REVOKE_GRANT)"),
    ],
)
def test_a_nul_character_from_the_config_file_is_refused_naming_the_setting(
    yaml: str, named: str, tmp_path: Path
) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text(yaml)
    config.chmod(0o600)
    done = run_cli_in_process("--config", str(config), env=OFFLINE, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert named in last_line(done.stderr)
    assert "NUL character" in last_line(done.stderr)
    assert "unexpected error" not in done.stderr
    assert API not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "environ"),
    [
        # A Secret or ConfigMap made with `echo`: "cannot read it: No such file or directory", the newline unseen.
        ((), {"BATON_CONFIG_PATH": "{config}\n"}),
        (("--config", " {config} "), {}),
        # Empty means "not set", the next source applies (README): the flag's "" was the directory `.`, refused.
        (("--config", ""), {"BATON_CONFIG_PATH": "{config}"}),
    ],
)
def test_the_config_file_setting_is_read_as_every_other_setting(
    args: tuple[str, ...], environ: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text("site: datadoghq.eu\n")
    args = tuple(arg.replace("{config}", str(config)) for arg in args)
    environ = {key: value.replace("{config}", str(config)) for key, value in environ.items()}
    done = run_cli_in_process("config", "--json", *args, env={**KEYS, **environ}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    site = json.loads(done.stdout)["settings"]["site"]
    assert (site["value"], site["source"]) == ("datadoghq.eu", "file")


def test_an_empty_config_file_setting_means_none() -> None:
    for args, environ in [(("--config", " "), {}), ((), {"BATON_CONFIG_PATH": " \n"})]:
        done = run_cli_in_process("config", "--json", *args, env={**KEYS, **environ})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["settings"]["site"]["source"] == "default"


@pytest.mark.parametrize(
    ("args", "environ"),
    [
        (("--grant-principal-type", "team"), {}),
        ((), {"BATON_GRANT_PRINCIPAL_TYPE": "team"}),
        # With another action, it was ignored as silently: the revoke's type is in the grant id.
        (("-p", "--revoke-grant", "role:r:member:user:u", "--grant-principal-type", "team"), {}),
    ],
)
def test_a_grant_principal_type_without_a_grant_runs_nothing(
    args: tuple[str, ...], environ: dict[str, str], tmp_path: Path
) -> None:
    """Its siblings (--grant-principal, --create-account-name, --invoke-action-args) are refused without their
    action; this one made a full sync (or the other action) and exited 0, as if the flag had done something."""
    done = run_cli_in_process(*args, env={**OFFLINE, **environ}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr) == (
        "baton-datadog: settings: --grant-principal-type is set but --grant-entitlement is not"
    )
    assert not (tmp_path / "sync.c1z").exists()


@pytest.mark.parametrize(
    ("args", "environ", "traceback"),
    [
        # The flag wins over the variable, in either form: `=info` counted as no flag.
        (("--log-level=info",), {"BATON_LOG_LEVEL": "debug"}, False),
        (("--log-level=INFO ",), {"BATON_LOG_LEVEL": "debug"}, False),
        (("--log-level", "info"), {"BATON_LOG_LEVEL": "debug"}, False),
        (("--log-level=debug",), {"BATON_LOG_LEVEL": "info"}, True),
        # Given twice, the last one wins, as argparse reads it (the first did).
        (("--log-level", "debug", "--log-level", "info"), {}, False),
        (("--log-level=info", "--log-level", "debug"), {}, True),
        # After `--` nothing is a flag.
        (("--", "--log-level=debug"), {}, False),
    ],
)
def test_the_traceback_follows_the_log_level_the_run_reads(
    args: tuple[str, ...],
    environ: dict[str, str],
    traceback: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from connector import cli

    def explode(args: list[str]) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(cli, "_dispatch", explode)
    monkeypatch.delenv("BATON_LOG_LEVEL", raising=False)
    monkeypatch.delenv("BATON_CONFIG_PATH", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert cli.main(list(args)) == 1
    assert ("Traceback" in capsys.readouterr().err) is traceback


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc: a directory no one can make files in")
@pytest.mark.parametrize("service", [False, True], ids=["one-shot", "service"])
def test_a_temp_dir_no_working_file_can_be_made_in_is_a_setting_error(service: bool, tmp_path: Path) -> None:
    """A directory, so it passed the start-up check. One-shot then failed after the key check, exit 1, as "cannot
    create a working directory in /proc" without the setting's name; the service became ready and failed every
    sync task. Read-only mounts and another user's directories alike; /proc refuses everyone, root too."""
    from tests.fakes.c1.creds import generate_client_credentials

    environ = {**OFFLINE, "BATON_C1Z_TEMP_DIR": "/proc"}
    if service:
        creds = generate_client_credentials("tenant.example.com")
        environ |= {"BATON_CLIENT_ID": creds.client_id, "BATON_CLIENT_SECRET": creds.client_secret}
        environ |= {"BATON_HEALTH_CHECK": "false"}
    # The service as a process: one that got past the check would wait for ConductorOne, and be stopped here.
    done = run_cli(env=environ, cwd=tmp_path, timeout=60) if service else run_cli_in_process(env=environ, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr) == (
        "baton-datadog: setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): cannot create a working directory in /proc: "
        "No such file or directory"
    )


def test_the_temp_dir_check_leaves_nothing_behind(tmp_path: Path) -> None:
    from connector.daemon.oneshot import check_temp_dir

    check_temp_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        # A directory that does not exist yet: the sync was written to a file of that name, exit 0.
        (("--file", "backups/"), "setting --file (BATON_FILE): 'backups/' names a directory; name a file in it "),
        (("--file", "backups/."), "setting --file (BATON_FILE): 'backups/.' names a directory"),
        (("--ca-bundle", "corp-ca.pem/"), "setting --ca-bundle (BATON_CA_BUNDLE): 'corp-ca.pem/' names a directory"),
    ],
)
def test_a_file_setting_that_ends_like_a_directory_is_refused(
    args: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    (tmp_path / "corp-ca.pem").write_text("not read: the name is refused first\n")
    done = run_cli_in_process(*args, env=OFFLINE, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert named in last_line(done.stderr)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corp-ca.pem"]


@pytest.mark.parametrize("variable", ["BATON_CONFIG", "BATON_CONFIG_FILE", "BATON_CONFIGPATH"])
def test_a_near_miss_of_the_config_file_variable_names_it(variable: str, tmp_path: Path) -> None:
    """The settings file's variable is no field of the model, so its near misses were "not a setting of this
    connector" while the file they named went unread and the run used the defaults."""
    config = tmp_path / "baton.yaml"
    config.write_text("site: datadoghq.eu\n")
    done = run_cli_in_process("config", env={**KEYS, variable: str(config)})
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"warning: unknown environment variable {variable}; did you mean BATON_CONFIG_PATH (--config)?"
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # No dash, so no flag: "argument 1 is neither a flag, a flag's value nor a command", the cause unseen.
        (("\u2014api-key", API), "argument 1 starts with '\u2014' (EM DASH), not '-'"),
        (("--site", "datadoghq.eu", "\u2013-file", "x.c1z"), "argument 3 starts with '\u2013' (EN DASH), not '-'"),
        # After a command: "1 unexpected argument(s)".
        (("config", "\u2212\u2212json"), "an argument starts with '\u2212' (MINUS SIGN), not '-'"),
        (("config", f"\u2013-api-key={API}"), "an argument starts with '\u2013' (EN DASH), not '-'"),
    ],
)
def test_a_flag_typed_with_a_dash_look_alike_is_named_as_such(args: tuple[str, ...], says: str) -> None:
    done = run_cli_in_process(*args)
    assert done.returncode == 2, done.stderr
    assert says in last_line(done.stderr)
    assert "type the flag's dashes again" in last_line(done.stderr)
    assert API not in done.stderr + done.stdout


@pytest.mark.parametrize("key", [API, APP, "0123456789abcdef0123456789abcdef"])
def test_a_key_in_the_site_variable_is_not_printed(key: str) -> None:
    """Two values of a Secret swapped: the site's refusal quoted the key, before the log redactor knew it."""
    done = run_cli_in_process(env={**OFFLINE, "BATON_SITE": key})
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr).startswith("baton-datadog: setting --site (BATON_SITE): unknown Datadog site ")
    assert key not in done.stderr + done.stdout


@pytest.mark.parametrize("site", ["us3", "datadoghq.con", "https://app.datadoghq.com"])
def test_a_mistyped_site_is_still_quoted(site: str) -> None:
    done = run_cli_in_process("config", "--site", site)
    assert done.returncode == 2, done.stderr
    assert f"unknown Datadog site {site!r}; valid values are: datadoghq.com, " in last_line(done.stderr)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc: a directory no one can make files in")
@pytest.mark.parametrize("service", [False, True], ids=["one-shot", "service-periodic-sync"])
def test_a_file_whose_directory_refuses_the_save_is_a_setting_error(service: bool, tmp_path: Path) -> None:
    """os.access answers for root as if /proc (or an NFS export that squashes root) were writable: the --file check
    passed, and the save failed after the whole sync (in service mode, every periodic sync did)."""
    from tests.fakes.c1.creds import generate_client_credentials

    environ = {**OFFLINE, "BATON_FILE": "/proc/x.c1z"}
    if service:
        creds = generate_client_credentials("tenant.example.com")
        environ |= {"BATON_CLIENT_ID": creds.client_id, "BATON_CLIENT_SECRET": creds.client_secret}
        environ |= {"BATON_HEALTH_CHECK": "false", "BATON_SYNC_INTERVAL": "3600"}
    done = run_cli(env=environ, cwd=tmp_path, timeout=60) if service else run_cli_in_process(env=environ, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr).startswith(
        "baton-datadog: setting --file (BATON_FILE): /proc/x.c1z: the directory /proc is not writable"
    )


@pytest.mark.parametrize(
    ("fixture", "named"),
    [
        ("sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z", "'group', 'project'"),  # a finished sync
        ("sync-in-progress.c1z", "'group', 'project', 'scoped_role'"),  # an unfinished one
    ],
)
@pytest.mark.parametrize("service", [False, True], ids=["one-shot", "service-periodic-sync"])
def test_a_file_another_connector_wrote_is_refused_and_kept(
    fixture: str, named: str, service: bool, tmp_path: Path
) -> None:
    """`sync.c1z` is every baton connector's default name: run in the folder where another connector (here a Go one, of
    groups and projects) left its file, the sync replaced that connector's whole sync without a word. A file naming a
    resource type this connector never writes is another connector's: refused before any request, and left as it
    was. The Go Datadog connector's files (the same types) are still replaced (test_oneshot_existing_file.py)."""
    from tests.c1z_fixtures import FIXTURE_DIR
    from tests.fakes.c1.creds import generate_client_credentials

    out = tmp_path / "sync.c1z"
    out.write_bytes((FIXTURE_DIR / fixture).read_bytes())
    before = out.read_bytes()
    environ = dict(OFFLINE)
    if service:
        creds = generate_client_credentials("tenant.example.com")
        environ |= {"BATON_CLIENT_ID": creds.client_id, "BATON_CLIENT_SECRET": creds.client_secret}
        environ |= {"BATON_HEALTH_CHECK": "false", "BATON_SYNC_INTERVAL": "3600"}
    done = run_cli(env=environ, cwd=tmp_path, timeout=60) if service else run_cli_in_process(env=environ, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert last_line(done.stderr) == (
        f"baton-datadog: setting --file (BATON_FILE): sync.c1z: the existing file holds another connector's sync, "
        f"or a newer release's of this one (resource types {named}; this connector writes api-key, role, schedule, service-account-access-token, "
        "service-account-application-key, team, user); move it away or name another file — it is never overwritten "
        "blindly"
    )
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sync.c1z"], "nothing left beside it"


def test_the_file_check_leaves_nothing_beside_the_file(tmp_path: Path) -> None:
    from connector.daemon.oneshot import check_output_file

    check_output_file(tmp_path / "sync.c1z", None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("base_url", ["", "https://127.0.0.1:1", "http://127.0.0.1:1"])
def test_insecure_base_url_without_a_plain_http_base_url_is_warned_about(base_url: str) -> None:
    """It allows plain http for --base-url and nothing else; set to skip certificate checks (what "insecure" means
    to curl and many SDKs), it did nothing, and the start-up line showed it on."""
    from connector.daemon.oneshot import idle_settings
    from connector.daemon.settings import load

    argv = ["--insecure-base-url", *(["--base-url", base_url] if base_url else [])]
    assert idle_settings(load(argv)) == [
        "setting --insecure-base-url (BATON_INSECURE_BASE_URL) does nothing without a plain-http --base-url off "
        "loopback (it never skips TLS verification); it is ignored"
    ]
    assert idle_settings(load(["--insecure-base-url", "--base-url", "http://10.0.0.1:8080"])) == []


@pytest.mark.parametrize("variable", ["BATON_REVOKE_GRANT", "BATON_GRANT_ENTITLEMENT", "BATON_INVOKE_ACTION"])
def test_a_one_shot_action_variable_set_empty_runs_nothing(variable: str, tmp_path: Path) -> None:
    """`BATON_REVOKE_GRANT="$GRANT" baton-datadog -p` with GRANT unset: a full sync, exit 0, as if revoked (the
    flag's empty value is refused for this reason already)."""
    done = run_cli_in_process("-p", env={**OFFLINE, variable: ""}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr).startswith(f"baton-datadog: setting --{variable[6:].lower().replace('_', '-')} ")
    assert "the variable is set to an empty value (an unset variable?); nothing was run" in last_line(done.stderr)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_action_variable_still_yields_to_a_flag_or_the_file(tmp_path: Path) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text("invoke-action: disable_user\n")
    for args in (("--invoke-action", "enable_user"), ("--config", str(config))):
        done = run_cli_in_process("config", "--json", *args, env={"BATON_INVOKE_ACTION": ""})
        assert done.returncode == 2, done.stderr  # an action needs --provisioning: the value was read
        assert "--invoke-action changes Datadog: it needs --provisioning" in last_line(done.stderr)


def test_a_nul_character_is_named_beside_the_files_other_refusals(tmp_path: Path) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text('file: "out\\0.c1z"\nhealth-check-port: 99999\n')
    config.chmod(0o600)
    done = run_cli_in_process("config", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert (
        "baton-datadog: setting --file (BATON_FILE): holds a NUL character (\\0), which no setting's value may" in lines
    )
    assert any(
        line.startswith("baton-datadog: setting --health-check-port (BATON_HEALTH_CHECK_PORT): ") for line in lines
    )


def test_sync_settings_given_with_a_one_shot_action_are_warned_about() -> None:
    """A one-shot action changes Datadog and exits without a sync: `--revoke-grant ... --file audit.c1z` wrote no file,
    and nothing said so."""
    from connector.daemon.oneshot import idle_settings
    from connector.daemon.settings import load

    action = ["-p", "--revoke-grant", "role:r1:member:user:u1"]
    assert idle_settings(load([*action, "--file", "audit.c1z", "--sync-resource-types", "user"])) == [
        "setting --file (BATON_FILE) does nothing with --revoke-grant, which syncs nothing; it is ignored",
        "setting --sync-resource-types (BATON_SYNC_RESOURCE_TYPES) does nothing with --revoke-grant, which syncs "
        "nothing; it is ignored",
    ]
    assert idle_settings(load(action)) == []
    assert idle_settings(load(["--file", "audit.c1z"])) == [], "a sync reads them"


def test_a_file_name_too_long_for_the_saves_temp_file_is_named_as_such_not_an_unwritable_directory(
    tmp_path: Path,
) -> None:
    """A legal name of 237 to 255 bytes: the save's `.<name>.save-XXXXXXXX.tmp` is past the file system's limit. The
    directory is writable, and was called unwritable."""
    from connector.daemon.oneshot import check_output_file
    from connector.daemon.settings import SettingsError

    out = tmp_path / ("a" * 246 + ".c1z")
    with pytest.raises(SettingsError) as refused:
        check_output_file(out, None)
    problem = str(refused.value)
    assert "not writable" not in problem
    assert f"the name is too long: the save writes .{out.name}.save-XXXXXXXX.tmp beside it" in problem
    assert list(tmp_path.iterdir()) == []


def test_a_file_mounted_on_its_own_is_refused_before_the_sync_not_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker run -v ./sync.c1z:/data/sync.c1z`: the save's rename over a mount point fails (EBUSY), and it failed
    only after the whole sync (in service mode, after every periodic sync). Its device is its directory's, so the mount
    table tells: here one whose mount point holds a space, which the table writes as an octal escape."""
    from connector.baton.sync import to_file
    from connector.daemon import oneshot
    from connector.daemon.settings import SettingsError

    data = tmp_path / "my data"
    data.mkdir()
    mounted, beside = data / "sync.c1z", data / "other.c1z"
    mounted.write_bytes(b"")
    beside.write_bytes(b"")
    escaped = str(mounted).replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        f"1094 1093 254:0 /home/me/sync.c1z {escaped} rw,relatime - ext4 /dev/vda rw\n"
    )
    monkeypatch.setattr(to_file, "MOUNTINFO", table)  # the check's owner (the runner makes it too)
    with pytest.raises(SettingsError, match=r"sync\.c1z is a mount point .* mount its directory instead"):
        oneshot.check_output_file(mounted, None)
    oneshot.check_output_file(beside, None)  # a plain file beside it is fine
    monkeypatch.setattr(to_file, "MOUNTINFO", tmp_path / "absent")  # no /proc: nothing to tell, nothing refused
    oneshot.check_output_file(mounted, None)


def test_a_file_really_bind_mounted_is_refused(tmp_path: Path) -> None:
    """The same with a real bind mount, in a mount namespace of its own (skipped where that is not allowed)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    source, mounted = tmp_path / "source.c1z", tmp_path / "sync.c1z"
    source.write_bytes(b"")
    mounted.write_bytes(b"")
    check = (
        "import sys\nfrom pathlib import Path\nfrom connector.daemon.oneshot import check_output_file\n"
        "from connector.daemon.settings import SettingsError\n"
        "try:\n    check_output_file(Path(sys.argv[1]), None)\nexcept SettingsError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" "$2" || exit 77; exec "$3" -c "$4" "$2"', "sh",
         str(source), str(mounted), sys.executable, check],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    if done.returncode == 77 or "unshare failed" in done.stderr or "Operation not permitted" in done.stderr:
        pytest.skip("mount namespaces or bind mounts are not allowed here")
    assert done.returncode == 0, done.stderr
    assert f"{mounted} is a mount point" in done.stdout
