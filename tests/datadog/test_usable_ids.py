"""A page's ids and links are checked together (`all_usable_ids`): the same verdict as `is_usable_id` of each."""

from __future__ import annotations

import random

import pytest

from connector.datadog.idrules import all_usable_ids, is_usable_id

GOOD = ["8d4c7a1e-02f1-4c55-9a5b-0d5e6f7a8b9c", "abc-123", "sat:svc-1", "a.b", "...", "x" * 1024, "é-ü", "a b"]
BAD = [".", "..", " ", "\t", "\u3000", "x" * 1025, "a\x00b", "a\nb", "\x1f", "a\x7f", "\x85"]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("where", [0, 3, 8])
def test_one_unusable_id_anywhere_on_a_page_refuses_the_page(bad: str, where: int) -> None:
    page = list(GOOD)
    page.insert(where, bad)
    assert not is_usable_id(bad)
    assert not all_usable_ids(page)


def test_empty_ids_are_left_to_the_engine_and_a_page_of_good_ones_passes() -> None:
    assert all_usable_ids([])
    assert all_usable_ids(["", ""])
    assert all_usable_ids([*GOOD, ""])


def test_the_verdict_is_that_of_every_id_alone() -> None:
    # Joining must not make or hide a bad id: a dot next to a dot, a space next to a letter, characters split across
    # two ids. Random pages from an alphabet of the characters that matter.
    alphabet = [".", " ", "a", "-", "\x00", "\x1f", "\x7f", "\u00a0", "é", ""]
    rng = random.Random(12)
    for _ in range(20_000):
        page = ["".join(rng.choices(alphabet, k=rng.randint(0, 3))) for _ in range(rng.randint(0, 4))]
        assert all_usable_ids(page) == all(is_usable_id(v) for v in page if v), page
