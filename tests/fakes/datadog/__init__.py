"""A fake Datadog API for tests: a real HTTP server on loopback with a seeded synthetic org."""

from tests.fakes.datadog.generate import generate_org
from tests.fakes.datadog.org import Org
from tests.fakes.datadog.server import DEFAULT_API_KEY, DEFAULT_APP_KEY, FakeDatadog
from tests.fakes.datadog.web import Faults, RateLimits, Seen

__all__ = ["DEFAULT_API_KEY", "DEFAULT_APP_KEY", "FakeDatadog", "Faults", "Org", "RateLimits", "Seen", "generate_org"]
