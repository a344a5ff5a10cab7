"""The end-to-end fixtures (both fakes on 127.0.0.1, and the daemons run against them) for the one process test of
this suite."""

from tests.e2e.conftest import fake_c1, fake_datadog, stack

__all__ = ["fake_c1", "fake_datadog", "stack"]
