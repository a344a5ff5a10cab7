"""Fifth round against a hostile Datadog and network: answers of another kind, key checks on answers that are no
answer, and what a hostile peer costs in requests."""
