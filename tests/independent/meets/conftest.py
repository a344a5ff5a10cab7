"""The rig of tests/independent/writes (the real processor, handlers, connector and client against the fake Datadog
behind a scriptable wire, a recording ConductorOne), reused as it is."""

from __future__ import annotations

from tests.independent.writes.conftest import fake, logs, rig

__all__ = ["fake", "logs", "rig"]
