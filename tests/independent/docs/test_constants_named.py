"""Constants: every upper-case name a document puts in code quotes (`MAX_LINE_CHARS`, `STARTUP_CHECK_SECONDS`,
`SLOW_SCOPES`) is defined where a reader would find it (the package, the tests, the scripts, the Makefile or the
Dockerfile), or is a variable some program reads (the connector, SQLite, gRPC, pip, the shell), so a rename leaves
no document pointing at a name that no longer exists."""

from __future__ import annotations

import functools
import re

from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, backticked

# Names a document quotes that are no constant of ours: other programs' codes and variables, placeholders.
FOREIGN = {"SQLITE_IOERR_WRITE", "PIP_NO_CACHE_DIR", "TEAM_ID", "USER_ID", "ROLE_ID", "KEY_ID"}


@functools.cache
def _defined() -> frozenset[str]:
    """Every upper-case word of the package (its protos too), the scripts, the benchmarks, the tests' shared modules
    (not each test file: the suite is too large to read in the time a test may take), the Makefile and the
    Dockerfile."""
    files = [p for folder in ("connector", "scripts", "benchmarks") for p in (REPO / folder).rglob("*.py")]
    files += (REPO / "connector" / "baton" / "proto").rglob("*.proto")  # the wire names: capabilities, codes
    files += [*(REPO / "tests").glob("*.py"), *(REPO / "tests" / "fakes").rglob("*.py"), REPO / "Makefile"]
    files.append(REPO / "Dockerfile")
    words = {word for p in files for word in re.findall(r"\b[A-Z][A-Z0-9_]*\b", p.read_text())}
    # A capability is quoted by its short name, as the spec's tables give it (`SYNC_SECRETS`).
    return frozenset(words | {w.removeprefix("CAPABILITY_") for w in words})


def test_every_constant_a_document_quotes_is_defined() -> None:
    defined = _defined()
    quoted = {
        (doc, name)
        for doc in OPERATOR_DOCS
        for span in backticked(doc)
        for name in re.findall(r"^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:\(\))?$", span)
        if name not in FOREIGN and not name.startswith("BATON_")  # variables: test_settings_named.py
    }
    assert len(quoted) > 20, "the pattern no longer reads the documents"
    assert sorted((doc, name) for doc, name in quoted if name not in defined) == []
