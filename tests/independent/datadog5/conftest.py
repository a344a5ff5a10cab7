"""Every case of this suite: neither canary key in anything the connector logged while it ran (standard output and
error, where structlog and the library loggers write, and the records the logging module saw)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.independent.datadog2.org import CANARIES


@pytest.fixture(autouse=True)
def no_canary_logged(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capsys.readouterr()
    records = "\n".join(record.getMessage() for record in caplog.records)
    for canary in CANARIES:
        assert canary not in out
        assert canary not in err
        assert canary not in records
