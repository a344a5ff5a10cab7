"""The third first-hour suite (attack 904): the documented path followed literally on a fresh clone, by a newcomer
and a baton-sdk user; tests/independent/firsthour/ and tests/independent/operator/ are the earlier rounds."""
