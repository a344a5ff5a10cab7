"""What the operator2 modules share: a fake ConductorOne on 127.0.0.1, and the lines an operator reads."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from tests.fakes.c1 import FakeC1

# Lines an operator reads (and alerts on); debug lines are for whoever turned them on.
_SEEN = ("warning", "error", "critical")


@pytest.fixture
def fake() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running


def seen(events: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """The captured lines at warning or above."""
    return [event for event in events if event["log_level"] in _SEEN]
