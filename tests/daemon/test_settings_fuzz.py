"""Fuzz: any mix of flags, environment variables and YAML values gives valid settings or a SettingsError naming
the problem — never another exception, never a secret in the message."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from connector.daemon.main import startup_summary
from connector.daemon.settings import ENV_PREFIX, Settings, SettingsError, env, flag, load_effective, redacted

FIELDS = sorted(Settings.model_fields)
CANARY = "canary-fuzz-secret-3c2b1a09"

# Text an environment variable can hold (no NUL, no lone surrogates).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=20)
LIKELY = st.sampled_from(["", "0", "1", "-1", "true", "no", "maybe", "8081", "99999", "1e3", "user,role", "[", "{}"])
VALUE = st.one_of(LIKELY, TEXT)
YAML_VALUE: st.SearchStrategy[Any] = st.one_of(
    VALUE, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True), st.lists(TEXT, max_size=3)
)


def _check(argv: list[str], environ: dict[str, str], document: dict[str, Any] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, clear=False) as patched:
        for key in [k for k in patched if k.upper().startswith(ENV_PREFIX)]:
            del patched[key]
        patched.update(environ)
        if document is not None:
            path = Path(tmp) / "baton.yaml"
            path.write_text(yaml.safe_dump(document, allow_unicode=True))
            argv = [*argv, "--config", str(path)]
        try:
            effective = load_effective(argv)
        except SettingsError as exc:
            message = str(exc)
            assert message.strip()
            assert CANARY not in message
            return
        except SystemExit as exc:  # argparse's own refusal of a malformed command line: usage + exit 2
            code = exc.code
            assert code == 2
            return
        shown = str(redacted(effective.settings)) + str(startup_summary(effective.settings))
        assert CANARY not in shown
        assert set(effective.sources) == set(FIELDS)


@pytest.mark.fuzz
@given(
    flags=st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=4),
    environ=st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=4),
    document=st.none() | st.dictionaries(st.sampled_from(FIELDS), YAML_VALUE, max_size=4),
)
def test_any_settings_are_valid_or_a_named_settings_error(
    flags: dict[str, str], environ: dict[str, str], document: dict[str, Any] | None
) -> None:
    argv: list[str] = []
    for name, value in flags.items():
        argv += [f"{flag(name)}={value}"] if Settings.model_fields[name].annotation is not bool else [flag(name)]
    env_vars = {env(name): value for name, value in environ.items()}
    env_vars[env("client_secret")] = CANARY  # a secret is always present; no message may echo it
    _check(argv, env_vars, document)


@pytest.mark.fuzz
@given(name=TEXT, value=VALUE)
def test_unknown_and_garbage_variables_never_break_loading(name: str, value: str) -> None:
    key = ENV_PREFIX + "".join(c for c in name.upper() if c.isalnum() or c == "_")
    _check([], {key: value}, None)
