"""A page's ids and links are checked together (`all_usable_ids`): the same verdict as `is_usable_id` of each."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.datadog.idrules import _BYTES_CHECKED, all_usable_ids, has_control_character, is_usable_id

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


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=40))
def test_a_control_character_is_found_in_any_text_the_way_the_rule_says(value: str) -> None:
    # ASCII text up to the bound is checked through its bytes, anything else by the regex: the same verdict, that of a
    # character-by-character reading (C0 controls and DEL; not NEL or a no-break space, which `is_usable_id` refuses
    # as blank or not for other reasons).
    expected = any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    assert has_control_character(value) == expected
    assert has_control_character(value * (_BYTES_CHECKED // max(1, len(value)) + 1)) == expected  # past the bound


def test_the_last_character_of_a_long_ascii_text_is_read_too() -> None:
    for length in (_BYTES_CHECKED - 1, _BYTES_CHECKED, _BYTES_CHECKED + 1):
        assert has_control_character("a" * (length - 1) + "\x7f")
        assert not has_control_character("a" * length)
