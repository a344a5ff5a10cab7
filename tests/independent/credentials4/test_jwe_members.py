"""A `baton/jwe/v1` public JWK's members must be unique (docs/spec/credentials.md §2.5 item 5: "no duplicate
top-level members"). The SDK reads each member's value as raw JSON and looks into it only for the members it knows:
an unknown member whose value is an object repeating a key of its own is no duplicate member. Such a JWK was refused
here (every object of the document had to have unique keys), and the SDK issues to it."""

from __future__ import annotations

import base64
import copy
from typing import Any

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.independent.credentials.issuing import PREFIX, issue_task, robot
from tests.independent.credentials.keys import JWE_VECTOR
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good


def _with_raw_members(raw: bytes) -> dict[str, Any]:
    """The X-Wing vector's config, its JWK's closing brace preceded by `raw` (a member list starting with a comma)."""
    config: dict[str, Any] = copy.deepcopy(JWE_VECTOR["encryption_configs"][0])
    arm = config["jwk_public_key_config"]
    jwk = base64.b64decode(arm["pub_key"]).rstrip()
    assert jwk.endswith(b"}")
    arm["pub_key"] = base64.b64encode(jwk[:-1] + raw + b"}").decode()
    return config


async def test_a_repeated_key_inside_an_unknown_members_value_is_no_duplicate_member(rig: Rig) -> None:
    config = _with_raw_members(b',"ext":{"note":1,"note":2}')
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish
    response = finish.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    assert [e.provider for e in response.encrypted_data] == ["baton/jwe/v1"]


async def test_a_repeated_top_level_member_is_refused_before_the_mint(rig: Rig) -> None:
    config = _with_raw_members(b',"ext":1,"ext":2')
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == (
        PREFIX + "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwe: public key JWK has a duplicate member"
    )
    assert rig.wire.seen == []


async def test_two_lone_surrogate_names_are_one_name_to_the_sdk_and_refused_as_a_repeat(rig: Rig) -> None:
    """Go's JSON reader makes an unpaired surrogate escape U+FFFD: "\\ud800" and "\\udbff" are one name to the SDK,
    which refuses the JWK as repeating a member. Python keeps them apart, and it was issued to here."""
    config = _with_raw_members(b',"\\ud800":1,"\\udbff":2')
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.endswith("jwe: public key JWK has a duplicate member"), finish.message
    assert rig.wire.seen == []


async def test_a_lone_surrogate_name_beside_a_replacement_character_name_is_a_repeat(rig: Rig) -> None:
    config = _with_raw_members(b',"\\udc00":1,"\\ufffd":2')
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert rig.wire.seen == []


async def test_a_surrogate_pair_name_is_its_character_and_no_repeat_of_a_replacement_character(rig: Rig) -> None:
    config = _with_raw_members(b',"\\ud83d\\ude00":1,"\\ufffd":2')
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish
