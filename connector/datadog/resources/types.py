"""The resource types, with the ids, display names, traits and annotations of the Go connector.

ConductorOne joins existing data on these ids, so they are copied exactly (docs/spec/reference-connector.md §2).
"""

from __future__ import annotations

from connector.baton import builders as b
from connector.baton.pb.c1.connector.v2 import annotation_resource_pb2

_SKIP = annotation_resource_pb2.SkipEntitlementsAndGrants()

USER = b.resource_type("user", "User", [b.Trait.TRAIT_USER], annotations=[_SKIP])
ROLE = b.resource_type("role", "Role", [b.Trait.TRAIT_ROLE])
TEAM = b.resource_type("team", "Team", [b.Trait.TRAIT_GROUP])
SCHEDULE = b.resource_type("schedule", "Schedule", [b.Trait.TRAIT_GROUP])
API_KEY = b.resource_type(
    "api-key",
    "Organization API Key",
    [b.Trait.TRAIT_SECRET],
    annotations=[_SKIP],
    description="A Datadog organization API key. Owned by the org, not by any single Datadog identity.",
)
SERVICE_ACCOUNT_APP_KEY = b.resource_type(
    "service-account-application-key", "Service Account Application Key", [b.Trait.TRAIT_SECRET], annotations=[_SKIP]
)
SERVICE_ACCOUNT_ACCESS_TOKEN = b.resource_type(
    "service-account-access-token",
    "Service Account Access Token",
    [b.Trait.TRAIT_SECRET],
    annotations=[_SKIP],
    description="A standalone Datadog service access token owned by one service account; "
    "authenticated with Authorization: Bearer.",
)

TYPE_IDS = frozenset(
    t.id for t in (USER, ROLE, TEAM, SCHEDULE, API_KEY, SERVICE_ACCOUNT_APP_KEY, SERVICE_ACCOUNT_ACCESS_TOKEN)
)
"""Every type a sync of this connector (or of the Go one, which has the same ids) may write, whichever are synced: an
existing --file naming another type is another connector's (connector/baton/sync/to_file.py, output_file_problem)."""
