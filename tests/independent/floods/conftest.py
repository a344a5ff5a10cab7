"""The fake ConductorOne of `tests/baton/c1` (leak-guarded: no credential in any log or output)."""

from tests.baton.c1.conftest import fake, leak_guard

__all__ = ["fake", "leak_guard"]
