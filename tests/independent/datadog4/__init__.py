"""Fourth round against a hostile Datadog and network: syncs that never end, untrusted bytes."""
