"""Adversarial c1z suite, third round: what the first two (tests/independent/c1z, c1z2) and tests/baton/test_c1z_*
left uncovered."""
