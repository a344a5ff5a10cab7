"""The documents an operator deploys and runs the connector from, read as text."""

from __future__ import annotations

import re
from pathlib import Path

import connector

REPO = Path(connector.__file__).resolve().parent.parent
OPERATOR_DOCS = (
    "README.md",
    "docs/deployment.md",
    "docs/runbook.md",
    "docs/service-mode.md",
    "docs/credentials.md",
    "docs/c1z.md",
    "charts/baton-datadog/README.md",
)


def text(name: str) -> str:
    return (REPO / name).read_text()


def unwrapped(name: str) -> str:
    """The document with its line breaks as spaces: a quoted name may break across lines."""
    return re.sub(r"\s*\n\s*", " ", text(name))


def backticked(name: str) -> list[str]:
    """Every inline code span of the document (its lines joined), fenced blocks left out."""
    body = re.sub(r"```.*?```", " ", text(name), flags=re.S)
    return [span.strip() for span in re.findall(r"`([^`]+)`", re.sub(r"\s*\n\s*", " ", body))]
