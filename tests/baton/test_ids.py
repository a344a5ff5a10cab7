"""What a provisioner reads out of the SDK's ids (connector/baton/ids.py): a grant or revoke task's entitlement
carries its slug in its id only (the SDK's NewGrant embeds {id, resource}), and a revoke's grant id names its
entitlement and principal a second time. Every connector needs both readings, so the generic layer owns them; ids of
any shape (a ':' or an '@' inside) are read as the SDK joins them."""

from __future__ import annotations

import pytest

from connector.baton import builders as b
from connector.baton import ids
from connector.baton.errors import InvalidArgumentError
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2

SPACE = b.resource_id("space", "eng:platform")
ACCOUNT = b.resource_id("wiki_account", "ana@wiki.example")


def _entitlement(entitlement_id: str = "", slug: str = "") -> entitlement_pb2.Entitlement:
    return entitlement_pb2.Entitlement(resource=resource_pb2.Resource(id=SPACE), id=entitlement_id, slug=slug)


@pytest.mark.parametrize(
    ("entitlement_id", "slug"),
    [
        ("space:eng:platform:editor", ""),  # as a revoke's grant embeds it: the id only
        ("", "editor"),  # the slug only
        ("space:eng:platform:editor", "editor"),  # both, agreeing
    ],
)
def test_the_slug_is_read_from_the_slug_or_the_entitlement_id(entitlement_id: str, slug: str) -> None:
    assert ids.entitlement_slug(_entitlement(entitlement_id, slug), SPACE) == "editor"


@pytest.mark.parametrize(
    ("entitlement_id", "slug", "problem"),
    [
        ("space:eng:other:editor", "", "does not belong to 'space:eng:platform'"),
        ("space:eng:platform:editor", "reader", "does not match its slug 'reader'"),
        ("", "", "neither a slug nor an id"),
    ],
)
def test_an_entitlement_naming_other_access_is_refused(entitlement_id: str, slug: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        ids.entitlement_slug(_entitlement(entitlement_id, slug), SPACE)


def test_a_grant_id_must_name_the_grant_its_entitlement_and_principal_make() -> None:
    entitlement = ids.entitlement_id(SPACE.resource_type, SPACE.resource, "editor")
    same = b.grant(resource_pb2.Resource(id=SPACE), "editor", ACCOUNT).id
    ids.check_grant_id(same, entitlement, ACCOUNT.resource_type, ACCOUNT.resource)
    ids.check_grant_id("opaque-grant-handle", entitlement, ACCOUNT.resource_type, ACCOUNT.resource)  # no SDK id
    other = ids.grant_id(ids.entitlement_id(SPACE.resource_type, SPACE.resource, "reader"), "wiki_account", "bo@x")
    with pytest.raises(InvalidArgumentError, match="does not match the grant's entitlement and principal"):
        ids.check_grant_id(other, entitlement, ACCOUNT.resource_type, ACCOUNT.resource)


def test_an_id_quoted_in_an_error_is_escaped_and_cut() -> None:
    assert ids.quoted_id("a\x1bb") == "'a\\x1bb'"
    assert ids.quoted_id("x" * 1000) == repr("x" * 40) + "...(1000 characters)"
