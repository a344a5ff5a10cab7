"""Every `BATON_*` variable holding any bytes the environment can carry (all but NUL, UTF-8 or not: `os.environb`),
beside canary secrets: `config --json` either prints strict JSON or refuses in one line per problem naming the
variable (exit 2), never an unexpected error, and never a secret it was given.

The earlier fuzz (tests/daemon/test_settings_fuzz.py) drew text only; a variable's bytes that are not UTF-8 reach
Python as lone surrogates, and those are what broke `config --json` and the JSON log (test_names_not_utf8.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connector.cli import main
from connector.daemon.settings import Settings, env

API_KEY = "CANARYapi" + "a1" * 12
APP_KEY = "CANARYapp" + "b2" * 16
CLIENT_SECRET = "secret-token:CANARYclientsecret0123456789"
SECRETS = (API_KEY, APP_KEY, CLIENT_SECRET)
VARIABLES = sorted(env(name) for name in Settings.model_fields)

# What a variable can hold: any bytes but NUL (execve's strings end at it), read by Python as os.fsdecode reads them.
BYTES = st.binary(max_size=40).map(lambda raw: os.fsdecode(raw.replace(b"\0", b"")))
LIKELY = st.sampled_from(["", " ", "0", "-1", "1e309", "nan", "0x10", "1_000", "true", "[", "user,role", "\u2028"])
VALUE = st.one_of(LIKELY, BYTES, BYTES.map(lambda text: "/tmp/" + text))


def _config_json(environ: dict[str, str]) -> tuple[int, str, str]:
    saved = dict(os.environ)
    try:
        for key in [key for key in os.environ if key.startswith("BATON_")]:
            del os.environ[key]
        os.environ.update(environ)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["config", "--json"])
        return code, out.getvalue(), err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.fuzz
@given(values=st.dictionaries(st.sampled_from(VARIABLES), VALUE, min_size=1, max_size=4), with_secrets=st.booleans())
@example(values={"BATON_FILE": os.fsdecode(b"/data/s\xff.c1z")}, with_secrets=True)
@example(values={"BATON_C1Z_TEMP_DIR": os.fsdecode(b"/tmp/\xfe")}, with_secrets=False)
@example(values={"BATON_HOST_ID": os.fsdecode(b"host\xff")}, with_secrets=True)
def test_any_bytes_in_any_variable_are_strict_json_or_one_named_refusal(
    values: dict[str, str], with_secrets: bool
) -> None:
    environ = dict(values)
    if with_secrets:
        environ.update({"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY})
    code, out, err = _config_json(environ)
    assert code in (0, 2), err
    assert "unexpected error" not in err
    assert "Traceback" not in err
    for secret in SECRETS:
        assert secret not in out + err
    if code == 2 and not out:  # refused as the settings load; else the start's refusals follow the JSON (below)
        problems = err.splitlines()
        assert problems, err
        assert all(line.startswith("baton-datadog: ") for line in problems), err
        # Each refusal names the setting it is about, by its flag (and its variable where it is one setting's).
        assert all(" --" in line for line in problems), err
        return
    shown = json.loads(out)
    json.dumps(shown, ensure_ascii=False).encode("utf-8")  # a strict reader: no half surrogate pair anywhere
    for variable in values:
        assert shown["settings"][variable.removeprefix("BATON_").lower()]["source"] in ("env", "default")
