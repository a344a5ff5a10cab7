"""The second secrets suite: what the first (`tests/independent/secrets`) did not drive."""
