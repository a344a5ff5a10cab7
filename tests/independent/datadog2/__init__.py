"""Second adversarial suite: the sync path against a hostile Datadog (branch attack502)."""
