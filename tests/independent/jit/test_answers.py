"""Datadog's answers at each just-in-time write: a redirect to another host, a 5xx or a reset after the write took
effect, 429s with odd rate-limit headers, an answer over the size limit, refusals quoting the keys. For each: what
Datadog received (counted), what state it was left in, and the one report ConductorOne got (its code and message)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.datadog.provisioning import MAY_HAVE_LANDED
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.jit.helpers import (
    ALREADY_EXISTS,
    ALREADY_REVOKED,
    a_role,
    a_team,
    annotation_types,
    failed,
    membership,
    ok,
    people,
)
from tests.independent.jit.rig import jit
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import Action, answer, landed_then, landed_then_lost

ROLE_USERS = r"/api/v2/roles/[^/]+/users"
MEMBERSHIPS = r"/api/v2/team/[^/]+/memberships"
MEMBERSHIP = r"/api/v2/team/[^/]+/memberships/[^/]+"
USER = r"/api/v2/users/[^/]+"
USERS = r"/api/v2/users"


@dataclass
class Write:
    """One just-in-time write for user `uid`: the task, the one request that makes it, and the state it must leave."""

    method: str
    path: str
    task: Callable[[FakeDatadog, str], baton_pb2.Task]
    done: Callable[[FakeDatadog, str], bool]
    # Other writes the task sends before it (an admin grant to a member: the add, answered 409) and after it.
    before: int = 0
    after: int = 0


def _role_revoke(dd: FakeDatadog, uid: str) -> baton_pb2.Task:
    role = a_role(dd)
    dd.org.assign_role(uid, role.id)
    return revoke_task("role", role.id, "member", uid)


def _holds_role(dd: FakeDatadog, uid: str) -> bool:
    role = dd.org.role_by_name("JIT Role 401")
    assert role is not None
    return uid in dd.org.role_members.get(role.id, {})


def _enable(dd: FakeDatadog, uid: str) -> baton_pb2.Task:
    dd.org.update_user(dd.org.users[uid], disabled=True)
    return action_task("enable_user", uid)


def _member_of(dd: FakeDatadog, uid: str) -> str | None:
    team = next(t for t in dd.org.teams.values() if t.name == "JIT Team 401")
    held = team.members.get(uid)
    return None if held is None else (held.role or "member")


WRITES = {
    "role-grant": Write("POST", ROLE_USERS, lambda dd, u: grant_task("role", a_role(dd).id, "member", u), _holds_role),
    "role-revoke": Write("DELETE", ROLE_USERS, _role_revoke, lambda dd, u: not _holds_role(dd, u)),
    "member-grant": Write(
        "POST",
        MEMBERSHIPS,
        lambda dd, u: grant_task("team", a_team(dd).id, "member", u),
        lambda dd, u: _member_of(dd, u) == "member",
    ),
    "admin-grant-to-member": Write(
        "PATCH",
        MEMBERSHIP,
        lambda dd, u: grant_task("team", a_team(dd, {u: None}).id, "admin", u),
        lambda dd, u: _member_of(dd, u) == "admin",
        before=1,
    ),
    "admin-revoke": Write(
        "PATCH",
        MEMBERSHIP,
        lambda dd, u: revoke_task("team", a_team(dd, {u: "admin"}).id, "admin", u),
        lambda dd, u: _member_of(dd, u) == "member",
    ),
    "member-revoke": Write(
        "DELETE",
        MEMBERSHIP,
        lambda dd, u: revoke_task("team", a_team(dd, {u: None}).id, "member", u),
        lambda dd, u: _member_of(dd, u) is None,
    ),
    "admin-grant-to-nobody": Write(
        "POST",
        MEMBERSHIPS,
        lambda dd, u: grant_task("team", a_team(dd).id, "admin", u),
        lambda dd, u: _member_of(dd, u) == "admin",
        # After a lost answer the retried add is refused 409 (a membership exists), and the promotion is sent.
        after=1,
    ),
    "disable-user": Write(
        "DELETE", USER, lambda dd, u: action_task("disable_user", u), lambda dd, u: dd.org.users[u].disabled
    ),
    "enable-user": Write("PATCH", USER, _enable, lambda dd, u: not dd.org.users[u].disabled),
}


def _reached(writes: list[tuple[str, str]], method: str, path: str) -> int:
    return sum(1 for m, p in writes if m == method and re.fullmatch(path, p))


def _prepared(datadog: FakeDatadog, name: str) -> tuple[Write, baton_pb2.Task, str]:
    write, uid = WRITES[name], people(datadog)[0].id
    return write, write.task(datadog, uid), uid


def redirect(status: int) -> Action:
    async def act(request: httpx.Request, wire: object) -> httpx.Response:
        target = f"https://attacker.example{request.url.raw_path.decode()}"
        return httpx.Response(status, headers={"Location": target, "Content-Type": "application/json"}, json={})

    return act


@pytest.mark.parametrize("name", list(WRITES))
@pytest.mark.parametrize(
    "after",
    [
        landed_then(503, {"errors": ["Service Unavailable"]}),
        landed_then(500, b"<html>oops</html>", "text/html"),
        landed_then_lost(httpx.RemoteProtocolError),
        landed_then_lost(httpx.ReadTimeout),
    ],
    ids=["503", "500-page", "reset", "read-timeout"],
)
async def test_a_write_that_took_effect_before_its_answer_failed_is_reported_a_change_once(
    tmp_path: Path, datadog: FakeDatadog, name: str, after: Action
) -> None:
    """The write landed, its answer did not: the retry finds it made. Reported done, as a change (never "already
    so": that attempt made it), the write sent exactly twice and nothing else written."""
    write, task, uid = _prepared(datadog, name)
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, after)
        report = await rig.run(task)
        writes = rig.wire.writes()
    assert write.done(datadog, uid)
    assert ok(report), report
    assert ALREADY_EXISTS not in annotation_types(report)
    assert ALREADY_REVOKED not in annotation_types(report)
    assert _reached(writes, write.method, write.path) == 2, writes
    assert len(writes) == write.before + 2 + write.after, writes


@pytest.mark.parametrize(
    ("name", "status"), list(zip(WRITES, [301, 302, 303, 307, 308, 307, 308, 302, 303], strict=True)), ids=list(WRITES)
)
async def test_a_write_redirected_to_another_host_is_not_followed_and_not_reported_done(
    tmp_path: Path, datadog: FakeDatadog, name: str, status: int
) -> None:
    write, task, uid = _prepared(datadog, name)
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, redirect(status), times=10)
        report = await rig.run(task)
        writes = rig.wire.writes()
        hosts = set(rig.wire.hosts)
    assert not write.done(datadog, uid)
    assert failed(report), report
    assert "redirect" in report.status.message
    assert hosts == {"127.0.0.1"}
    assert _reached(writes, write.method, write.path) == 1, writes


def _too_large(status: int) -> Action:
    """The write lands; its answer is a JSON body over the client's limit (the rig's: 1 MiB)."""
    return landed_then(status, {"data": [], "meta": {"pad": "x" * (2 << 20)}})


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_write_answered_over_the_size_limit_after_it_landed_is_reported_once_as_datadog_left_it(
    tmp_path: Path, datadog: FakeDatadog, name: str
) -> None:
    """An answer too large to read says nothing of the write: an idempotent write is sent again and its own answer
    decides. Either way the report matches Datadog: success only with the change made."""
    write, task, uid = _prepared(datadog, name)
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, _too_large(200))
        report = await rig.run(task)
        writes = rig.wire.writes()
    assert write.done(datadog, uid)
    assert ok(report), report
    assert ALREADY_EXISTS not in annotation_types(report)
    assert ALREADY_REVOKED not in annotation_types(report)
    assert _reached(writes, write.method, write.path) == 2, writes


def _throttled(headers: dict[str, str]) -> Action:
    async def act(request: httpx.Request, wire: object) -> httpx.Response:
        return httpx.Response(429, headers=headers, json={"errors": ["Too many requests"]})

    return act


ODD_LIMITS = {
    "negative-reset": {"X-RateLimit-Reset": "-5", "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "10"},
    "nan-reset": {"X-RateLimit-Reset": "nan", "X-RateLimit-Period": "nan"},
    "huge-reset": {"X-RateLimit-Reset": "1e400", "X-RateLimit-Limit": "0"},
    "hex-reset": {"X-RateLimit-Reset": "0x10"},
    "epoch-reset": {"X-RateLimit-Reset": "1733500000"},
    "two-resets": {"X-RateLimit-Reset": "0, 9999"},
    "past-retry-after-date": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    "negative-retry-after": {"Retry-After": "-3"},
    "nothing": {},
}


@pytest.mark.parametrize(
    ("name", "limits"),
    [(name, limits) for limits, name in zip(ODD_LIMITS, [*WRITES, *WRITES], strict=False)],
    ids=list(ODD_LIMITS),
)
async def test_a_write_throttled_with_odd_rate_limit_headers_is_made_at_most_once_and_reported_as_made(
    tmp_path: Path, datadog: FakeDatadog, name: str, limits: str
) -> None:
    """Throttled twice with headers that do not parse, contradict each other or ask for an hour: the write is either
    sent again and made once (reported done), or given up (reported failed, Datadog unchanged). Never done and
    reported failed, nor the reverse."""
    write, task, uid = _prepared(datadog, name)
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, _throttled(ODD_LIMITS[limits]), times=2)
        report = await rig.run(task)
        writes = rig.wire.writes()
    landed = sum(1 for s in rig.wire.seen if s.by == "datadog" and s.method == write.method)
    assert landed <= 1
    if ok(report):
        assert write.done(datadog, uid)
        assert landed == 1
    else:
        # Any error of a grant or revoke is non-retryable (docs/spec/service-mode.md §3.4); a wait of a day is one.
        assert failed(report), report
        assert not write.done(datadog, uid)
        assert landed == 0
    assert _reached(writes, write.method, write.path) <= 3, writes


@pytest.mark.parametrize(
    ("name", "status"), list(zip(WRITES, [400, 401, 403, 404, 409, 422, 403, 409, 404], strict=True)), ids=list(WRITES)
)
async def test_a_refusal_quoting_the_keys_back_is_reported_without_them(
    tmp_path: Path, datadog: FakeDatadog, name: str, status: int
) -> None:
    """A gateway that echoes the request's headers in its error: the report names the refusal, never a key (the rig
    checks every log event and every FinishTask attempt for both keys)."""
    write, task, uid = _prepared(datadog, name)

    async def echoing(request: httpx.Request, wire: object) -> httpx.Response:
        quoted = [f"{k}: {v}" for k, v in request.headers.items()]
        return httpx.Response(status, json={"errors": [*quoted, {"detail": request.headers.get("dd-api-key")}]})

    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, echoing, times=10)
        report = await rig.run(task)
    assert datadog.api_key not in str(report)
    assert datadog.app_key not in str(report)
    if ok(report):
        # A 404 on a revoke is "already revoked", a 409 on a grant "already granted", each checked against Datadog.
        assert status in (404, 409)
    else:
        assert not write.done(datadog, uid)


def _account_task(email: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.create_account.resource_type_id = "user"
    task.create_account.account_info.profile.update({"email": email, "name": "Jane Doe"})
    return task


INVITATIONS = r"/api/v2/user_invitations"


@pytest.mark.parametrize(
    ("step", "after", "said"),
    [
        (USERS, _too_large(201), "may have been created"),
        (USERS, landed_then(503, {"errors": ["Service Unavailable"]}), "may have been created"),
        (INVITATIONS, _too_large(201), "may not have been sent"),
        (INVITATIONS, landed_then(502, b"<html>bad gateway</html>", "text/html"), "may not have been sent"),
    ],
    ids=["create-too-large", "create-503", "invite-too-large", "invite-502"],
)
async def test_an_account_whose_create_or_invitation_landed_unanswered_is_sent_once_and_not_reported_created(
    tmp_path: Path, datadog: FakeDatadog, step: str, after: Action, said: str
) -> None:
    """Creates are never resent, whatever became of their answer: one user, at most one invitation, and a report
    that says what may have happened so that whoever reads it can check."""
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on("POST", step, after)
        report = await rig.run(_account_task("jane.jit@example.com"))
        writes = rig.wire.writes()
    assert failed(report, retryable=False), report
    assert said in report.status.message
    assert _reached(writes, "POST", USERS) == 1, writes
    assert _reached(writes, "POST", INVITATIONS) == (1 if step == INVITATIONS else 0), writes
    assert datadog.org.user_by_email("jane.jit@example.com") is not None


@pytest.mark.parametrize("mark", ["\u200b", "\ufeff", "\u00ad", "\u2060"], ids=["zwsp", "bom", "soft-hyphen", "joiner"])
async def test_an_account_whose_email_carries_an_invisible_character_is_refused_before_any_request(
    tmp_path: Path, datadog: FakeDatadog, mark: str
) -> None:
    """`jane@example.com` copied with a zero-width space: a user under an address nobody reads, invited there."""
    async with jit(tmp_path, datadog) as rig:
        report = await rig.run(_account_task(f"jane{mark}.jit@example.com"))
        writes = rig.wire.writes()
    assert failed(report, retryable=False), report
    assert "not a valid email address" in report.status.message
    assert writes == []
    assert datadog.org.user_by_email(f"jane{mark}.jit@example.com") is None


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_write_that_landed_and_whose_every_retry_failed_is_reported_failed_saying_it_may_be_made(
    tmp_path: Path, datadog: FakeDatadog, name: str
) -> None:
    """The first attempt landed (its answer a 503), every retry was answered 503: the report is a failure, and it
    must say that Datadog may hold the change (it does), not only "unavailable", so that whoever reads it checks."""
    write, task, uid = _prepared(datadog, name)
    async with jit(tmp_path, datadog) as rig:
        rig.wire.on(write.method, write.path, landed_then(503, {"errors": ["Service Unavailable"]}))
        rig.wire.on(write.method, write.path, answer(503, {"errors": ["Service Unavailable"]}), times=100)
        report = await rig.run(task)
        writes = rig.wire.writes()
    assert write.done(datadog, uid)
    # An action (a user's disable or enable) that met only 503s is retryable, as Go reports every action's failure
    # (spec §3.4): a repeat is harmless. A grant or revoke stays final.
    assert failed(report, retryable=name in ("disable-user", "enable-user")), report
    assert MAY_HAVE_LANDED in report.status.message
    assert _reached(writes, write.method, write.path) == FAST_RETRY.max_attempts, writes


@pytest.mark.parametrize(
    ("email", "zwj"),
    [
        ("ali.jit@\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.ir", "zwnj"),
        ("info.jit@\u0dc1\u0dca\u200d\u0dbb\u0dd3.lk", "zwj"),
        ("info.jit@\u0dc1\u0dca\u200d\u0dbb\u0dd3-2.lk", "zwj"),
    ],
    ids=["persian-domain", "sinhala-domain", "sinhala-domain-with-a-digit"],
)
async def test_an_account_whose_domain_needs_a_joiner_is_created(
    tmp_path: Path, datadog: FakeDatadog, email: str, zwj: str
) -> None:
    """The zero-width joiner and non-joiner are part of some scripts' domain names, where IDNA2008 allows them
    (`می‌خواهم.ir`, `ශ්‍රී.lk`): refused with the pasted invisible characters, such an address had no account at all."""
    async with jit(tmp_path, datadog) as rig:
        report = await rig.run(_account_task(email))
    assert report.WhichOneof("final_state") == "success", report
    assert datadog.org.user_by_email(email) is not None


async def test_an_admin_grant_whose_add_may_have_landed_and_whose_promotion_failed_says_it_may_be_made(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    """Two writes: the add as admin landed (its answer a 503, then a 409 "already present"), and the promotion that
    follows never reached Datadog. The user is an admin; the report said only that the promotion could not be made."""
    user, team = people(datadog)[0], a_team(datadog)

    async def refused(request: httpx.Request, wire: object) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with jit(tmp_path, datadog) as rig:
        rig.wire.on("POST", r"/api/v2/team/[^/]+/memberships", landed_then(503, {"errors": ["Service Unavailable"]}))
        rig.wire.on("PATCH", r"/api/v2/team/[^/]+/memberships/[^/]+", refused, times=100)
        report = await rig.run(grant_task("team", team.id, "admin", user.id))
    assert failed(report, retryable=False), report
    assert MAY_HAVE_LANDED in report.status.message
    assert membership(datadog, team, user) == "admin"


@pytest.mark.parametrize(
    "address", ["ali.jit@exa\u094d\u200cmple.com", "ali.jit@1\u094d\u200d23.example.com"], ids=["latin", "digits"]
)
async def test_a_joiner_in_a_latin_label_is_still_an_invisible_character(
    tmp_path: Path, datadog: FakeDatadog, address: str
) -> None:
    """IDNA's rules let a zero-width non-joiner follow a virama anywhere, so `exa्‌mple` passes them: it looks like
    `example` with invisible characters. No script that needs a joiner mixes with Latin letters in one label, and a
    label of digits with a virama and a joiner (`1्‍23`) has no letter the joiner could belong to."""
    async with jit(tmp_path, datadog) as rig:
        report = await rig.run(_account_task(address))
        writes = rig.wire.writes()
    assert failed(report, retryable=False), report
    assert "not a valid email address" in report.status.message
    assert writes == []
