"""A second adversarial suite for provisioning semantics (issues 4 and 9): that a grant or revoke does in Datadog
exactly what ConductorOne asked and that its report says the truth, for answers Datadog may legally give."""
