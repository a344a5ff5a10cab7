"""docs/deployment.md and docs/runbook.md: a one-shot action run by hand in the pod (an urgent revoke, a left-live
key's deletion) "needs the ConductorOne credentials unset (`env -u BATON_CLIENT_ID -u BATON_CLIENT_SECRET`) and
`--no-require-service-mode`, and the refusals say so". Followed as the refusals word it, from the pod's environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connector.daemon.settings import load, require_service_mode
from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, SECRET, assert_quiet

POD = {
    **KEYS,
    "BATON_CLIENT_ID": "acme-datadog@acme.conductor.one/pcc",
    "BATON_CLIENT_SECRET": SECRET,
    "BATON_REQUIRE_SERVICE_MODE": "true",
}
ACTIONS = [
    ["--revoke-grant", "role:r1:member:user:u1"],
    ["--delete-resource", "k1", "--delete-resource-type", "api-key"],
]


@pytest.mark.parametrize("action", ACTIONS, ids=["revoke", "delete"])
@pytest.mark.parametrize("required", [True, False], ids=["pod", "workstation"])
def test_the_refusal_in_the_pod_names_every_step_of_the_way_out(action: list[str], required: bool) -> None:
    # It said only "(client-id is set)": unsetting BATON_CLIENT_ID alone was refused next for the secret.
    env = POD if required else {k: v for k, v in POD.items() if k != "BATON_REQUIRE_SERVICE_MODE"}
    done = run_cli_in_process("-p", *action, env=env)
    assert done.returncode == 2
    line = last_line(done.stderr)
    assert "env -u BATON_CLIENT_ID -u BATON_CLIENT_SECRET baton-datadog" in line, line
    assert ("--no-require-service-mode" in line) is required
    assert_quiet(done.stdout, done.stderr)


@pytest.mark.parametrize("action", ACTIONS, ids=["revoke", "delete"])
def test_doing_what_the_refusal_says_loads_the_action(action: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = run_cli_in_process("-p", *action, env=POD)
    unset = re.findall(r"-u (\S+)", last_line(done.stderr))
    assert unset == ["BATON_CLIENT_ID", "BATON_CLIENT_SECRET"]
    for name, value in POD.items():
        monkeypatch.setenv(name, value)
    for name in unset:
        monkeypatch.delenv(name)
    settings = load(["-p", "--no-require-service-mode", *action])
    require_service_mode(settings)  # no refusal left
    assert settings.one_shot_action == action[0].removeprefix("--").replace("-", "_")


CLIENT_ID = POD["BATON_CLIENT_ID"]


@pytest.mark.parametrize(
    ("given", "env", "way_out"),
    [
        (["--client-id", CLIENT_ID, "--client-secret", SECRET], {}, "(drop --client-id and --client-secret)"),
        (["--config", "{file}"], {}, "(remove client-id and client-secret from the --config file)"),
        (
            ["--client-id", CLIENT_ID, "--require-service-mode"],
            {"BATON_CLIENT_SECRET": SECRET},
            "(drop --client-id; drop --require-service-mode; env -u BATON_CLIENT_SECRET baton-datadog …)",
        ),
        (
            ["--config", "{file}"],
            {"BATON_REQUIRE_SERVICE_MODE": "true"},
            "(remove client-id and client-secret from the --config file; add --no-require-service-mode)",
        ),
        (
            # Required by a flag and by the pod's variable: "add --no-require-service-mode" with the flag kept in the
            # "…" was refused again (the flag won).
            ["--require-service-mode"],
            {"BATON_CLIENT_ID": CLIENT_ID, "BATON_CLIENT_SECRET": SECRET, "BATON_REQUIRE_SERVICE_MODE": "true"},
            "(drop --require-service-mode; env -u BATON_CLIENT_ID -u BATON_CLIENT_SECRET baton-datadog "
            "--no-require-service-mode …)",
        ),
    ],
    ids=["flags", "file", "flag-and-env", "file-and-required", "required-by-flag-and-env"],
)
def test_the_way_out_names_where_each_credential_was_given(
    given: list[str], env: dict[str, str], way_out: str, tmp_path: Path
) -> None:
    # It said `env -u BATON_CLIENT_ID -u BATON_CLIENT_SECRET` for credentials given as flags or in the file: followed,
    # the action was refused again, word for word.
    config = tmp_path / "c.yaml"
    config.write_text(f"client-id: {CLIENT_ID}\nclient-secret: {SECRET}\n")
    config.chmod(0o600)
    args = [arg.replace("{file}", str(config)) for arg in given]
    done = run_cli_in_process(*args, "-p", *ACTIONS[0], env={**KEYS, **env})
    assert done.returncode == 2
    line = last_line(done.stderr)
    assert line.endswith(f"run it without the ConductorOne credentials {way_out}"), line
    assert_quiet(done.stdout, done.stderr)


def test_an_action_refused_for_a_require_service_mode_flag_is_told_to_drop_the_flag() -> None:
    # It said "or BATON_REQUIRE_SERVICE_MODE=false": the flag wins over the variable, and so followed the action was
    # refused again, word for word.
    done = run_cli_in_process("-p", "--require-service-mode", *ACTIONS[0], env=KEYS)
    assert done.returncode == 2
    line = last_line(done.stderr)
    assert "drop --require-service-mode" in line, line
    assert "BATON_REQUIRE_SERVICE_MODE=false" not in line
    followed = run_cli_in_process("-p", "--require-service-mode", "--no-require-service-mode", *ACTIONS[0], env=KEYS)
    assert "one-shot action" not in followed.stderr
