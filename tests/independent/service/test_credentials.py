"""An issued credential's report against a hostile ConductorOne: only the report hands the credential over, so it
must reach ConductorOne exactly as issued (every attempt the same encrypted bytes), and a credential ConductorOne
took must never be taken back; the credential's plaintext never appears in a log event.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from connector.baton import builders as b
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.baton.second_connector.wiki import ACCOUNT, TOKEN
from tests.fakes.c1.service import GARBAGE
from tests.independent.service.rig import Running, running

VECTOR = "jwk-ed25519.json"


def _issue_task() -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    issue = task.issue_credential
    issue.identity_id.CopyFrom(b.resource_id(ACCOUNT.id, "bo@wiki.example"))
    issue.credential_options.secret_resource_type_id = TOKEN.id
    issue.credential_options.token.SetInParent()
    issue.encryption_configs.extend(configs_of(load(VECTOR)))
    return task


def _no_plaintext_logged(rig: Running) -> None:
    text = repr(rig.events)
    for _, value in rig.wiki.tokens.values():
        assert value not in text, "an issued credential reached a log event"


async def test_an_issued_credentials_report_retried_is_the_same_ciphertext_every_time(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", grpc.StatusCode.UNAVAILABLE, times=2, echo_tokens=True)
        task = _issue_task()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        attempts = [a for a in rig.fake.recorded().finish_attempts if a.task_id == task.id]
        assert len(attempts) == 3
        assert len({a.SerializeToString(deterministic=True) for a in attempts}) == 1
        response = resource_pb2.IssueCredentialResponse()
        assert report.success.response.Unpack(response)
        ((_, value),) = rig.wiki.tokens.values()
        (encrypted,) = response.encrypted_data
        assert decrypt(encrypted.provider, encrypted.encrypted_bytes, load(VECTOR)["private_keys"][0]) == value.encode()
        _no_plaintext_logged(rig)


async def test_a_credential_whose_report_conductorone_took_but_answered_unreadably_stays_issued(
    tmp_path: Path,
) -> None:
    """ConductorOne holds the credential (it took the report); sent again, its closed task refused the copies, the
    report was given up as lost, and the credential it had handed on was deleted."""
    async with running(tmp_path) as rig:
        rig.fake.refuse_repeated_reports()
        rig.fake.take_then_answer_raw("FinishTask", GARBAGE)
        task = _issue_task()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        follow = _issue_task()
        follow.issue_credential.identity_id.resource = "ana@wiki.example"
        rig.fake.enqueue(follow)
        await rig.finished(follow.id)
        assert len(rig.wiki.tokens) == 2, "a credential ConductorOne holds was deleted"
        assert not rig.logged("task not reported to ConductorOne")
        _no_plaintext_logged(rig)
