"""Settings: every `BATON_*` variable an operator document names is a setting, `BATON_CONFIG_PATH`, or one the
connector names at start-up for what it is (a baton-sdk setting it does not implement, a `*_FILE` form) rather than
as a misspelling; every flag on a documented `baton-datadog` command line is one that command takes; every setting
is documented where an operator looks (README.md, docs/deployment.md or the chart README); and the chart's
description of each `config` value names that setting's variable and the connector's own default."""

from __future__ import annotations

import argparse
import re

import pytest

from connector.daemon import inspect, settings
from connector.daemon.settings import Settings
from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, backticked, text

SETTING_VARIABLES = {settings.env(name) for name in Settings.model_fields}
# Names the documents give as misspellings, to show the warning that corrects them.
MISSPELLINGS = {"BATON_SYNC_SCHEDULE"}
# Name prefixes the documents give with a `*` or `…` after them (`BATON_HTTP_CACHE_*`).
PREFIXES = {"BATON_HTTP_CACHE": "BATON_HTTP_CACHE_TTL"}


def _named_variables() -> set[tuple[str, str]]:
    return {
        (doc, name)
        for doc in OPERATOR_DOCS
        for name in re.findall(r"\bBATON_[A-Z0-9_]*[A-Z0-9]", text(doc))
        if name not in SETTING_VARIABLES and name != settings.CONFIG_PATH_ENV and name not in MISSPELLINGS
    }


@pytest.mark.parametrize(("doc", "name"), sorted(_named_variables()))
def test_a_variable_named_that_is_no_setting_is_named_for_what_it_is(
    doc: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [v for v in list(__import__("os").environ) if v.startswith("BATON_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv(PREFIXES.get(name, name), "1")
    warnings = [w for w in settings.load_effective([]).warnings if PREFIXES.get(name, name) in w]
    assert warnings, f"{doc} names {name}, which the connector neither reads nor names"
    assert "did you mean" not in warnings[0], f"{doc} names {name} as if it were a setting: {warnings[0]}"


def _command_lines() -> list[tuple[str, str]]:
    """(document, command line) for each `baton-datadog …` a document shows, in a code block or inline."""
    found = []
    for doc in OPERATOR_DOCS:
        body = text(doc)
        for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", body, flags=re.S):
            joined = block.replace("\\\n", " ")
            found += [(doc, line.strip()) for line in joined.splitlines() if _PROGRAM.search(line)]
        found += [(doc, span) for span in backticked(doc) if _PROGRAM.match(span)]
    return found


# The program at the head of a command (`baton-datadog`, `.venv/bin/baton-datadog`, after `env -u …`), not a name
# in another tool's arguments (`kubectl -n baton-datadog`, `charts/baton-datadog`).
_PROGRAM = re.compile(r"^(?:env(?: -u \S+)* )?(?:\S*/)?baton-datadog ")


def _flags_of(command: str | None) -> frozenset[str]:
    if command == "inspect":
        parser = argparse.ArgumentParser(add_help=True)
        inspect.add_arguments(parser)
        return settings.known_flags(parser) | {"-v", "--version"}
    return settings.known_flags(settings.build_parser("config" if command == "config" else None))


@pytest.mark.parametrize(("doc", "line"), _command_lines())
def test_every_flag_on_a_documented_command_line_is_taken(doc: str, line: str) -> None:
    words = line.split("#")[0][_PROGRAM.match(line).end() :].split()  # type: ignore[union-attr]
    command = next((w for w in words if w in {"inspect", "config", "capabilities", "help", "completion"}), None)
    known = _flags_of(command) | {"-h", "--help"}
    given = {w.split("=")[0] for w in words if re.fullmatch(r"--?[a-z][a-z0-9-]*(=.*)?", w)}
    assert given - known == set(), f"{doc}: {line}"


def test_every_setting_is_documented_where_an_operator_looks() -> None:
    where = text("README.md") + text("docs/deployment.md") + text("charts/baton-datadog/README.md")
    missing = [
        name
        for name in Settings.model_fields
        if not re.search(rf"{settings.env(name)}(?![A-Z_])|{settings.flag(name)}(?![a-z-])", where)
    ]
    assert missing == []


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def test_each_chart_config_value_names_its_variable_and_the_connectors_default() -> None:
    by_value = {_camel(name): name for name in Settings.model_fields}
    params = re.findall(
        r"^## @param config\.(\w+) (.*)$", (REPO / "charts/baton-datadog/values.yaml").read_text(), re.M
    )
    assert params
    wrong = []
    for key, description in params:
        name = by_value.get(key)
        if name is None:
            wrong.append(f"config.{key}: no such setting")
            continue
        if re.findall(r"`(BATON_\w+)`", description) != [settings.env(name)]:
            wrong.append(f"config.{key}: names {re.findall(r'`(BATON_[A-Z_]+)`', description)}")
        if said := re.search(r"Connector default: (.*)", description):
            default = settings.shown_default(name)
            expected = {"none": "all"}.get(default, default)
            if not re.match(rf"{re.escape(expected.removesuffix('.0'))}(?:\.0)?(?![\w.])", said.group(1)):
                wrong.append(f"config.{key}: says default {said.group(1)!r}, the connector's is {default!r}")
    assert wrong == []
