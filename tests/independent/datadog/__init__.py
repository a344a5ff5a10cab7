"""An independent, adversarial suite for the Datadog side against a hostile Datadog (branch attack303): what the
issue 3 and 11 suites leave out."""
