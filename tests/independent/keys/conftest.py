"""The write-path rig (tests/independent/writes) reused as it is: the real processor, handlers, connector and client
against the fake Datadog behind a scriptable wire, and a recording ConductorOne."""

from __future__ import annotations

from tests.independent.writes.conftest import fake, logs, rig

__all__ = ["fake", "logs", "rig"]
