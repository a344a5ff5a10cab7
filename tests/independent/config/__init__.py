"""`baton-datadog config` against what a run refuses at start: each refusal said by both, in the same words, exit 2."""
