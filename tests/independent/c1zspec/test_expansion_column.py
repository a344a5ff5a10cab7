"""Guards the class "Python's whitespace where Go's `strings.TrimSpace` decides" in the grant expansion column.

docs/spec/c1z-format.md §2.5: a grant's `GrantExpandable` annotation always leaves the data blob; when at least one of
its `entitlement_ids` is non-blank (Go: `strings.TrimSpace(id) != ""`, `extractAndStripExpansion`) its serialized bytes
go to `v1_grants.expansion` with `needs_expansion = 1`, otherwise `expansion` is NULL and `needs_expansion = 0`. Python's
`str.strip()` also takes U+001C..U+001F, which Go's `unicode.IsSpace` does not: a grant naming such an id was stored
with no expansion at all, where Go stores it for expansion (the project's owner of Go's rule: connector/baton/gostrings).
"""

from __future__ import annotations

import pytest

from connector.baton import annotations as ann
from connector.baton import builders as b
from connector.baton.c1z import rows
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2

GROUP = b.resource_type("group", "Group", [b.Trait.TRAIT_GROUP])
EXPANSION, NEEDS, DATA = 6, 7, 8  # where `rows.grant_row` puts them (UPSERT_GRANT's order)


def stored(entitlement_ids: list[str]) -> tuple[bytes | None, int, grant_pb2.Grant]:
    grant = b.grant(b.resource(GROUP, "g1", "G"), "member", b.resource_id("group", "g2"))
    grant.annotations.append(ann.pack(annotation_grant_pb2.GrantExpandable(entitlement_ids=entitlement_ids)))
    row = rows.grant_row(grant, "sync", "2026-01-01 00:00:00")
    return row[EXPANSION], row[NEEDS], grant_pb2.Grant.FromString(row[DATA])


@pytest.mark.parametrize(
    "ids",
    [[], [""], [" ", "\t\n"], ["\u3000", "\u00a0\u2028"]],
    ids=["none", "empty", "ascii-space", "unicode-space"],
)
def test_ids_that_go_calls_blank_leave_no_expansion(ids: list[str]) -> None:
    expansion, needs, data = stored(ids)
    assert (expansion, needs) == (None, 0)
    assert not ann.has(data.annotations, annotation_grant_pb2.GrantExpandable), "always out of the blob"


@pytest.mark.parametrize("separator", ["\x1c", "\x1d", "\x1e", "\x1f"])
def test_an_id_that_only_python_calls_blank_is_stored_for_expansion(separator: str) -> None:
    expansion, needs, data = stored([separator])
    assert needs == 1
    assert expansion is not None
    assert list(annotation_grant_pb2.GrantExpandable.FromString(expansion).entitlement_ids) == [separator]
    assert not ann.has(data.annotations, annotation_grant_pb2.GrantExpandable)
