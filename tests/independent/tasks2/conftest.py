"""The rig of tests/independent/writes (the real processor, handlers, Datadog connector and client, the fake Datadog on
127.0.0.1, a ConductorOne stub recording every FinishTask), shared as is."""

from tests.independent.writes.conftest import fake, logs, rig

__all__ = ["fake", "logs", "rig"]
