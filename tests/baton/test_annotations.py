"""Annotations are `google.protobuf.Any` messages told apart by their type URL, which `connector.baton.annotations`
spells once (`type_url`) for packing them and for finding them. A second spelling (a copied prefix, a literal URL)
drifts on its own: a find that no longer matches what `pack` writes finds nothing, and says nothing."""

from __future__ import annotations

from pathlib import Path

from connector.baton import annotations as ann
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2

PACKAGE = Path(ann.__file__).parent.parent


def test_the_type_url_prefix_is_spelled_in_one_place() -> None:
    spelled = {
        str(path.relative_to(PACKAGE)): path.read_text().count("type.googleapis.com/")
        for path in PACKAGE.rglob("*.py")
        if "pb" not in path.relative_to(PACKAGE).parts
    }
    assert {name: count for name, count in spelled.items() if count} == {"baton/annotations.py": 1}


def test_what_pack_writes_is_what_has_and_pick_find() -> None:
    packed = [ann.pack(annotation_grant_pb2.GrantExpandable(entitlement_ids=["e"]))]
    assert packed[0].type_url == ann.type_url(annotation_grant_pb2.GrantExpandable)
    assert ann.has(packed, annotation_grant_pb2.GrantExpandable)
    assert not ann.has(packed, annotation_grant_pb2.GrantAlreadyExists)
    assert ann.pick(packed, annotation_grant_pb2.GrantExpandable) == annotation_grant_pb2.GrantExpandable(
        entitlement_ids=["e"]
    )


def test_pack_into_adds_what_pack_makes() -> None:
    grant = grant_pb2.Grant(annotations=[ann.pack(annotation_grant_pb2.GrantImmutable())])
    message = annotation_grant_pb2.GrantExpandable(entitlement_ids=["e2", "e1"])
    ann.pack_into(grant.annotations, message)
    assert list(grant.annotations) == [ann.pack(annotation_grant_pb2.GrantImmutable()), ann.pack(message)]
    assert ann.pick(grant.annotations, annotation_grant_pb2.GrantExpandable) == message
