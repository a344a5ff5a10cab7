"""The generic baton layer runs a connector that is not Datadog's: the wiki connector of `wiki.py`, on
`connector.baton` alone, through the service runner (`run_service`) against the fake ConductorOne over real gRPC and
TLS on 127.0.0.1. A full sync uploads a c1z the project's reader opens, a grant and a revoke change the wiki and are
reported, and nothing of the Datadog or daemon layers is imported on the way.

This is the worked example of docs/service-mode.md ("A second connector"): what a second connector writes is
`wiki.py` plus the `ServiceConfig` below. The other tests specify what the runner promises any connector, not only
the Datadog wiring: a stop without a signal, and signals given back; refusals at start of what every sync or call
would fail on (a proxy grpc cannot use, types it does not sync, an unusable temp dir, settings out of bounds); one
trust for both connections to ConductorOne; an upstream outage at start that does not stop the service.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import structlog

from connector.baton import builders as b
from connector.baton.c1 import parse_client_id, parse_client_secret, resolve_endpoints
from connector.baton.c1z.reader import C1ZReader
from connector.baton.ksuid import new_ksuid
from connector.baton.lifecycle import LIFECYCLE_FIELD
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, connector_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import ServiceConfig, ServiceSettingError, StartupRefused, run_service
from connector.baton.sync.syncer import SyncOptions
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.baton.second_connector.wiki import ACCOUNT, SPACE, TOKEN, Wiki, WikiApp
from tests.fakes.c1 import ClientCredentials, FakeC1, generate_client_credentials
from tests.fakes.tasks import kind_task
from tests.fixtures_dir import FIXTURES_DIR

PREFIX = "baton_wiki"
Cap = connector_pb2.Capability
NOT_OURS = ("connector.datadog", "connector.daemon", "connector.cli")


def _wiki() -> Wiki:
    return Wiki(
        accounts={"ana@wiki.example": "Ana", "bo@wiki.example": "Bo"},
        spaces={"7": "Handbook", "12": "Incidents", "105": "Payroll"},
        members={("7", "reader", "ana@wiki.example"), ("12", "editor", "bo@wiki.example")},
    )


def _config(fake: FakeC1, tmp_path: Path) -> ServiceConfig:
    return replace(
        _settings(fake.credentials, tmp_path), root_certificates=fake.ca_pem, token_verify=fake.ssl_context()
    )


def _settings(credentials: ClientCredentials, tmp_path: Path) -> ServiceConfig:
    client_id = parse_client_id(credentials.client_id)
    return ServiceConfig(
        client_id=client_id,
        secret=parse_client_secret(credentials.client_secret),
        endpoints=resolve_endpoints(client_id),
        api_host=None,
        host_id="wiki-test-host",
        root_certificates=None,
        token_verify=None,
        token_timeout=10.0,
        backoff_scale=0.01,
        ready_window_seconds=60.0,
        health_check=True,
        health_check_bind_address="127.0.0.1",
        health_check_port=0,
        temp_dir=tmp_path,
        skip_full_sync=False,
        sync_resource_types=(),
        sync_options=SyncOptions(),
        provisioning=True,
        task_concurrency=2,
        sync_interval=0.0,
        sync_file=tmp_path / "sync.c1z",
        shutdown_grace_seconds=5.0,
    )


def _space_task(kind: str, space: str, level: str, email: str) -> baton_pb2.Task:
    res = resource_pb2.Resource(id=b.resource_id(SPACE.id, space))
    entitlement = b.entitlement(res, level)
    principal = resource_pb2.Resource(id=b.resource_id(ACCOUNT.id, email))
    task = baton_pb2.Task(id=new_ksuid())
    if kind == "grant":
        task.grant.entitlement.CopyFrom(entitlement)
        task.grant.principal.CopyFrom(principal)
    else:
        task.revoke.grant.CopyFrom(b.grant(res, level, principal.id))
    return task


async def _finished(fake: FakeC1, task_id: str, service: asyncio.Task[int]) -> baton_pb2.BatonServiceFinishTaskRequest:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.done():
            raise AssertionError(f"the runner ended before task {task_id} was reported: {service.exception()!r}")
        reports = (await asyncio.to_thread(fake.recorded)).finish_tasks.get(task_id)
        if reports:
            assert len(reports) == 1, f"task {task_id} reported {len(reports)} times"
            return reports[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} not reported within 60 s")


async def test_a_second_connector_syncs_grants_and_revokes_through_the_generic_service_runner(tmp_path: Path) -> None:
    wiki = _wiki()
    app = WikiApp(wiki)
    metrics = Metrics(PREFIX, app.version)
    stop = asyncio.Event()
    serving = False
    with FakeC1() as fake, structlog.testing.capture_logs() as events:
        service = asyncio.create_task(run_service(_config(fake, tmp_path), app, metrics, stop=stop))
        try:
            sync = await _finished(fake, fake.enqueue(kind_task("sync_full")), service)
            serving = True  # the runner's signal handlers are in place
            assert sync.WhichOneof("final_state") == "success", sync
            grant = await _finished(
                fake, fake.enqueue(_space_task("grant", "105", "editor", "ana@wiki.example")), service
            )
            assert grant.WhichOneof("final_state") == "success", grant
            revoke = await _finished(
                fake, fake.enqueue(_space_task("revoke", "7", "reader", "ana@wiki.example")), service
            )
            assert revoke.WhichOneof("final_state") == "success", revoke
            again = await _finished(
                fake, fake.enqueue(_space_task("revoke", "7", "reader", "ana@wiki.example")), service
            )
            listening = next(e for e in events if e["event"] == "health server listening")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listening['port']}") as ops:
                ready, scrape = await ops.get("/readyz"), await ops.get("/metrics")
        finally:
            if serving and not service.done():
                os.kill(os.getpid(), signal.SIGTERM)  # what Kubernetes sends: the runner drains and returns
            else:
                stop.set()  # the test failed before the runner was serving: SIGTERM would end pytest
            code = await asyncio.wait_for(service, timeout=30)
        recorded = await asyncio.to_thread(fake.recorded)
        (upload,) = [u for u in recorded.uploads if u.task_id == sync.task_id]
        assert upload.ok
        assert upload.path is not None
        uploaded = tmp_path / "uploaded.c1z"  # the fake's files go with it
        shutil.copyfile(upload.path, uploaded)
    assert code == 0
    assert app.closed
    assert [e["signal"] for e in events if e["event"] == "shutdown requested"] == ["SIGTERM"]
    # The service's life, each line flagged for the log's kept room (never dropped behind a stalled reader).
    assert [e["event"] for e in events if e.get(LIFECYCLE_FIELD) is True] == [
        "connected to ConductorOne",
        "shutdown requested",
        "stopped",
    ]

    # ConductorOne was told who this is, and the connector's own name went out with the Hello.
    hello = recorded.hellos[0]
    assert hello.connector_metadata.display_name == "Wiki"
    # What it can do, derived by the generic layer from what it implements: ConductorOne offers grants of spaces only,
    # tokens issued to accounts, and their deletion.
    capabilities = hello.connector_metadata.capabilities
    issuing = [Cap.CAPABILITY_CREDENTIAL_ISSUE, Cap.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1]
    assert {c.resource_type.id: list(c.capabilities) for c in capabilities.resource_type_capabilities} == {
        ACCOUNT.id: [Cap.CAPABILITY_SYNC, *issuing],
        SPACE.id: [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_PROVISION],
        TOKEN.id: [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_RESOURCE_DELETE],
    }
    assert (hello.build_info.package, hello.build_info.package_version) == ("baton-wiki", "0.0.1")

    # The sync's upload is a c1z the project's reader opens, holding the wiki as it was.
    with C1ZReader(uploaded) as reader:
        assert {t.id for t in reader.resource_types()} == {ACCOUNT.id, SPACE.id, TOKEN.id}
        assert {r.id.resource for r in reader.resources()} == {"ana@wiki.example", "bo@wiki.example", "7", "12", "105"}
        assert {e.id for e in reader.entitlements()} == {
            f"space:{n}:{level}" for n in ("7", "12", "105") for level in ("reader", "editor")
        }
        assert {g.id for g in reader.grants()} == {
            "space:7:reader:wiki_account:ana@wiki.example",
            "space:12:editor:wiki_account:bo@wiki.example",
        }

    # The grant and the revoke changed the wiki, and ConductorOne heard what each did.
    assert wiki.writes[:2] == [
        ("add", "105", "editor", "ana@wiki.example"),
        ("remove", "7", "reader", "ana@wiki.example"),
    ]
    assert wiki.members == {("105", "editor", "ana@wiki.example"), ("12", "editor", "bo@wiki.example")}
    granted = grant_pb2.GrantManagerServiceGrantResponse()
    assert grant.success.response.Unpack(granted)
    assert [g.id for g in granted.grants] == ["space:105:editor:wiki_account:ana@wiki.example"]
    assert again.WhichOneof("final_state") == "success"
    assert any(a.Is(annotation_grant_pb2.GrantAlreadyRevoked.DESCRIPTOR) for a in again.success.annotations)

    # The operator surface speaks of this connector only: ready, its metrics under its own prefix.
    assert ready.status_code == 200
    assert f'{PREFIX}_tasks_finished_total{{outcome="success",type="grant"}} 1.0' in scrape.text
    assert "datadog" not in scrape.text.lower()


async def test_a_second_connector_issues_a_credential_encrypted_to_conductorone_and_deletes_it(tmp_path: Path) -> None:
    """The generic issuance path (docs/spec/credentials.md §3): the request checked against the wiki's advertised
    descriptor, the token minted, encrypted to ConductorOne's key and reported; then ConductorOne's delete_resource
    revokes it."""
    wiki = _wiki()
    app = WikiApp(wiki)
    stop = asyncio.Event()
    vector = load("jwk-ed25519.json")
    issue = baton_pb2.Task(id=new_ksuid())
    issue.issue_credential.identity_id.CopyFrom(b.resource_id(ACCOUNT.id, "bo@wiki.example"))
    issue.issue_credential.credential_options.secret_resource_type_id = TOKEN.id
    issue.issue_credential.credential_options.token.SetInParent()
    issue.issue_credential.encryption_configs.extend(configs_of(vector))
    with FakeC1() as fake:
        service = asyncio.create_task(
            run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version), stop=stop)
        )
        issued = await _finished(fake, fake.enqueue(issue), service)
        assert issued.WhichOneof("final_state") == "success", issued
        response = resource_pb2.IssueCredentialResponse()
        assert issued.success.response.Unpack(response)
        (token_id,) = wiki.tokens
        assert response.secret.id == b.resource_id(TOKEN.id, token_id)
        (encrypted,) = response.encrypted_data
        plaintext = decrypt(encrypted.provider, encrypted.encrypted_bytes, vector["private_keys"][0])
        assert plaintext == wiki.tokens[token_id][1].encode()
        delete = baton_pb2.Task(id=new_ksuid())
        delete.delete_resource.resource_id.CopyFrom(response.secret.id)
        deleted = await _finished(fake, fake.enqueue(delete), service)
        stop.set()
        assert await asyncio.wait_for(service, timeout=30) == 0
    assert deleted.WhichOneof("final_state") == "success", deleted
    assert wiki.tokens == {}


def test_the_second_connector_and_the_runner_import_nothing_of_the_datadog_or_daemon_layers() -> None:
    """In a fresh interpreter (this session has imported everything): the test module, its connector and the fakes
    load no module of connector.datadog, connector.daemon or connector.cli. A generic piece that grew a dependency
    on either fails here, and the test above with it."""
    code = (
        "import importlib, json, sys\n"
        "importlib.import_module('tests.baton.second_connector.test_service')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, cwd=root
    )
    loaded = json.loads(done.stdout)
    assert "connector.baton.runtime.service" in loaded
    assert "tests.baton.second_connector.wiki" in loaded
    assert [name for name in loaded if name.startswith(NOT_OURS)] == []


@pytest.mark.parametrize("bad", ["connector.datadog", "connector.daemon.settings"])
def test_the_import_check_sees_a_layer_crossing(bad: str) -> None:
    """The check above is not vacuous: a module of a forbidden layer, once imported, is seen."""
    code = f"import importlib, json, sys\nimportlib.import_module({bad!r})\nprint(json.dumps(sorted(sys.modules)))\n"
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, cwd=root
    )
    assert [name for name in json.loads(done.stdout) if name.startswith(NOT_OURS)]


async def test_the_runner_stops_when_its_caller_asks_draining_a_grant_and_gives_the_signals_back(
    tmp_path: Path,
) -> None:
    """A program that embeds the runner (a supervisor of its own, a test) stops it without a process signal: `stop`
    takes the same path as SIGTERM, so a grant the upstream is still applying is waited for and reported. Once the
    runner has returned, SIGTERM and SIGINT are the program's again (a handler left on the loop swallowed them)."""
    wiki = _wiki()
    wiki.hold = asyncio.Event()
    app = WikiApp(wiki)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    programs = {signal.SIGTERM: lambda *_: None, signal.SIGINT: lambda *_: None}
    saved = {sig: signal.signal(sig, handler) for sig, handler in programs.items()}
    try:
        await _stop_and_drain(tmp_path, wiki, app, stop, loop)
        # The loop holds none of the runner's any more, and the program's own are back.
        assert not loop.remove_signal_handler(signal.SIGTERM)
        assert not loop.remove_signal_handler(signal.SIGINT)
        assert {sig: signal.getsignal(sig) for sig in programs} == programs
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


async def _stop_and_drain(
    tmp_path: Path, wiki: Wiki, app: WikiApp, stop: asyncio.Event, loop: asyncio.AbstractEventLoop
) -> None:
    assert wiki.hold is not None
    with FakeC1() as fake:
        service = asyncio.create_task(
            run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version), stop=stop)
        )
        task_id = fake.enqueue(_space_task("grant", "105", "editor", "bo@wiki.example"))
        await asyncio.wait_for(wiki.granting.wait(), timeout=60)
        stop.set()
        loop.call_later(0.2, wiki.hold.set)  # the upstream answers during the drain
        assert await asyncio.wait_for(service, timeout=30) == 0
        (report,) = (await asyncio.to_thread(fake.recorded)).finish_tasks[task_id]
    assert report.WhichOneof("final_state") == "success"
    assert ("105", "editor", "bo@wiki.example") in wiki.members
    assert app.closed


async def test_a_proxy_the_grpc_channel_cannot_use_is_refused_before_anything_connects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An https:// proxy: httpx would carry the token request through it, but grpc speaks plain CONNECT only and,
    given one, connects directly, past the proxy the operator set. The runner refuses it (exit 1, the variable named,
    its value, which may carry a password, not repeated) for every connector, not only in the Datadog wiring."""
    monkeypatch.setenv("HTTPS_PROXY", "https://user:proxy-canary-password@127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        with pytest.raises(StartupRefused) as refused:
            await asyncio.wait_for(run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version)), 30)
        assert fake.connections_accepted == 0
    assert "HTTPS_PROXY" in str(refused.value)
    assert "not an http:// proxy" in str(refused.value)
    assert "proxy-canary-password" not in str(refused.value)


async def test_an_upstream_down_at_start_is_a_warning_even_when_the_app_does_not_classify_it(tmp_path: Path) -> None:
    """`Connector.validate` raises the baton layer's ConnectorError; an app whose `startup_verdict` names only the
    errors it knows to be fatal (the wiki's refused token) still gets a service that carries on through an upstream
    outage, as the runner promises (an outage must not stop the service), not an exception out of `run_service`."""
    wiki = _wiki()
    wiki.down = True
    app = WikiApp(wiki)
    stop = asyncio.Event()
    with FakeC1() as fake, structlog.testing.capture_logs() as events:
        service = asyncio.create_task(
            run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version), stop=stop)
        )
        grant = await _finished(fake, fake.enqueue(_space_task("grant", "7", "editor", "bo@wiki.example")), service)
        stop.set()
        assert await asyncio.wait_for(service, timeout=30) == 0
    assert grant.WhichOneof("final_state") == "success"
    (warned,) = [e for e in events if e["event"] == "the connector's start-up check failed; continuing"]
    assert warned["log_level"] == "warning"
    assert warned["error"] == "the wiki did not answer"


@pytest.mark.parametrize(
    ("setting", "change"),
    [
        ("sync_resource_types", {"sync_resource_types": ("spaces",)}),
        ("sync_resource_types", {"sync_options": SyncOptions(resource_type_ids=("space", "page"))}),
        (
            "sync_resources",
            {"sync_options": SyncOptions(targeted_resources=(b.resource_id("page", "1"),))},
        ),
    ],
)
async def test_a_resource_type_the_connector_does_not_sync_is_a_setting_refused_before_the_hello(
    tmp_path: Path, setting: str, change: dict[str, object]
) -> None:
    """A typo in the types or targets to sync made every sync task fail ("names unknown resource types") while the pod
    stayed ready; the Datadog wiring checked it before start, a second connector's did not. The runner checks them
    against the connector's syncers and names the setting, before ConductorOne is told the connector is there."""
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        config = replace(_config(fake, tmp_path), **change)  # type: ignore[arg-type]
        with pytest.raises(ServiceSettingError) as refused:
            await asyncio.wait_for(run_service(config, app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0
    assert refused.value.setting == setting
    assert "'page'" in refused.value.reason or "'spaces'" in refused.value.reason
    assert "space, wiki_account, wiki_api_token" in refused.value.reason
    assert app.closed


async def test_left_to_the_environment_both_connections_to_conductorone_trust_the_same_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector that gives the runner no trust settings of its own: SSL_CERT_FILE (a company's CA) is what the
    token request trusts (httpx reads it), and the gRPC channel must trust the same, not grpc's bundled roots (the
    token came and every Hello failed its TLS handshake, retried for ever)."""
    app = WikiApp(_wiki())
    stop = asyncio.Event()
    with FakeC1() as fake:
        monkeypatch.setenv("SSL_CERT_FILE", str(fake.ca_cert_path))
        monkeypatch.delenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", raising=False)
        config = replace(_config(fake, tmp_path), root_certificates=None, token_verify=None)
        service = asyncio.create_task(run_service(config, app, Metrics(PREFIX, app.version), stop=stop))
        try:
            sync = await _finished(fake, fake.enqueue(kind_task("sync_full")), service)
        finally:
            stop.set()
            await asyncio.wait_for(service, timeout=30)
    assert sync.WhichOneof("final_state") == "success"


async def test_an_unreadable_ssl_cert_file_is_refused_at_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.delenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", raising=False)
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        config = replace(_config(fake, tmp_path), root_certificates=None, token_verify=None)
        with pytest.raises(StartupRefused, match=r"^environment SSL_CERT_FILE: .*no-such-bundle\.pem does not exist"):
            await asyncio.wait_for(run_service(config, app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("task_concurrency", 0),  # no task slot: the runner never polled, and said ready
        ("backoff_scale", 1e-320),  # every retry delay zero: ConductorOne hammered through an outage
        ("backoff_scale", math.nan),
        ("shutdown_grace_seconds", 1e308),  # waited for the SIGKILL
        ("shutdown_grace_seconds", -1.0),
        ("sync_interval", math.inf),
        ("ready_window_seconds", 0.0),
        ("token_timeout", -5.0),
        ("health_check_port", 70000),
        ("host_id", "h" * 257),  # ConductorOne's limit on every request's host_id
    ],
)
def test_a_setting_the_runner_cannot_run_with_is_refused_naming_it(setting: str, value: object) -> None:
    """The runner's own bounds (connector/baton/runtime/bounds.py), checked when its settings are made: a second
    connector's wiring that did not bound a value got a runner that misbehaved without any error."""
    good = _settings(generate_client_credentials("127.0.0.1:9"), Path("/never-used"))
    with pytest.raises(ServiceSettingError) as refused:
        replace(good, **{setting: value})  # type: ignore[arg-type]
    assert refused.value.setting == setting
    assert "out of range" in refused.value.reason


@pytest.mark.parametrize("kind", ["missing", "a file"])
async def test_a_temp_dir_no_sync_could_work_in_is_a_setting_refused_before_the_hello(
    tmp_path: Path, kind: str
) -> None:
    """Every sync task failed on it ("cannot create a working directory in ...") while the pod stayed ready: the
    Datadog wiring refused it at start, a second connector's did not. The runner tries it as a sync will use it."""
    temp = tmp_path / "temp"
    if kind == "a file":
        temp.write_text("not a directory")
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        config = replace(_config(fake, tmp_path), temp_dir=temp)
        with pytest.raises(ServiceSettingError) as refused:
            await asyncio.wait_for(run_service(config, app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0
    assert refused.value.setting == "c1z_temp_dir"
    assert refused.value.reason == f"{temp} does not exist or is not a directory"


def test_a_runner_on_a_thread_of_its_own_serves_and_stops_through_its_stop_event(tmp_path: Path) -> None:
    """Signals reach the main thread only, and asyncio refuses a signal handler anywhere else: a program running the
    service beside a framework of its own (the runner on a worker thread's loop) got a RuntimeError at start. There the
    runner leaves the signals to the program, and `stop` is how it is stopped."""
    app = WikiApp(_wiki())
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    outcome: list[object] = []

    def serve(config: ServiceConfig) -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome.append(loop.run_until_complete(run_service(config, app, Metrics(PREFIX, app.version), stop=stop)))
        except BaseException as exc:
            outcome.append(exc)
        finally:
            loop.close()

    with FakeC1() as fake:
        worker = threading.Thread(target=serve, args=(_config(fake, tmp_path),), name="wiki-service")
        worker.start()
        task_id = fake.enqueue(_space_task("grant", "7", "editor", "bo@wiki.example"))
        deadline = time.monotonic() + 60
        while not fake.recorded().finish_tasks.get(task_id) and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if worker.is_alive():
            loop.call_soon_threadsafe(stop.set)
        worker.join(timeout=30)
        (report,) = fake.recorded().finish_tasks.get(task_id, [None])
    assert outcome == [0]
    assert report is not None
    assert report.WhichOneof("final_state") == "success"


def test_a_runner_off_the_main_thread_without_a_stop_event_is_refused(tmp_path: Path) -> None:
    """Nothing could stop it but cancellation, which skips the drain: a programming error, named at once."""
    app = WikiApp(_wiki())
    outcome: list[BaseException] = []
    config = _settings(generate_client_credentials("127.0.0.1:9"), tmp_path)

    def serve() -> None:
        try:
            asyncio.run(run_service(config, app, Metrics(PREFIX, app.version)))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=serve)
    worker.start()
    worker.join(timeout=30)
    (error,) = outcome
    assert isinstance(error, ValueError)
    assert "takes a stop event" in str(error)


async def test_a_connector_whose_close_fails_still_has_the_health_server_and_the_channel_closed(tmp_path: Path) -> None:
    """`ServiceApp.aclose` is the connector's code: its failure is the runner's error to raise, after the runner has
    closed what it opened (the health port stayed bound in the program that embedded the runner)."""

    class FailingClose(WikiApp):
        async def aclose(self) -> None:
            await super().aclose()
            raise RuntimeError("the wiki client did not close")

    app = FailingClose(_wiki())
    stop = asyncio.Event()
    with FakeC1() as fake, structlog.testing.capture_logs() as events:
        service = asyncio.create_task(
            run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version), stop=stop)
        )
        await _finished(fake, fake.enqueue(kind_task("sync_full")), service)
        port = next(e for e in events if e["event"] == "health server listening")["port"]
        stop.set()
        with pytest.raises(RuntimeError, match="the wiki client did not close"):
            await asyncio.wait_for(service, timeout=30)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_periodic_sync_file_no_save_could_write_is_a_setting_refused_before_the_hello(tmp_path: Path) -> None:
    """With a periodic sync, a --file every save would fail on (a directory here) failed each sync after the whole
    sync, logged and nothing else; the Datadog wiring refused it at start, a second connector's did not."""
    folder = tmp_path / "syncs"
    folder.mkdir()
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        config = replace(_config(fake, tmp_path), sync_interval=3600.0, sync_file=folder)
        with pytest.raises(ServiceSettingError) as refused:
            await asyncio.wait_for(run_service(config, app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0
    assert refused.value.setting == "file"
    assert refused.value.reason == f"{folder} is a directory; name a file in it (e.g. {folder / 'sync.c1z'})"


async def test_a_periodic_sync_file_of_another_connector_is_refused_before_the_hello_and_kept(
    tmp_path: Path,
) -> None:
    """`sync.c1z` is every baton connector's default: a periodic sync into a file another connector wrote (a Go
    connector's, of groups and projects) replaced its whole sync with the wiki's, without a word. The types a
    connector's syncs may write are its wiring's to give; a file naming another is refused, named, and kept."""
    out = tmp_path / "sync.c1z"
    shutil.copyfile(FIXTURES_DIR / "c1z" / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z", out)
    before = out.read_bytes()
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        config = replace(
            _config(fake, tmp_path),
            sync_interval=3600.0,
            sync_file=out,
            sync_file_resource_types=frozenset({ACCOUNT.id, SPACE.id, TOKEN.id}),
        )
        with pytest.raises(ServiceSettingError) as refused:
            await asyncio.wait_for(run_service(config, app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0
    assert refused.value.setting == "file"
    assert refused.value.reason == (
        f"{out}: the existing file holds another connector's sync, or a newer release's of this one (resource types "
        "'group', 'project', 'role', 'user'; this connector writes space, wiki_account, wiki_api_token); move it away or name another file — it is never "
        "overwritten blindly"
    )
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HTTPS_PROXY", "http://ops:proxy-canary-password@[bad", "environment HTTPS_PROXY: not a proxy URL"),
        ("https_proxy", "http://ops:proxy-canary-password@proxy:notaport", "environment https_proxy: not a proxy URL"),
        ("NO_PROXY", "[::1]", "environment NO_PROXY: '[::1]' is not a host name"),
        ("SSL_CERT_DIR", "/nonexistent-ca-dir", "environment SSL_CERT_DIR: /nonexistent-ca-dir is not a directory"),
    ],
)
async def test_an_environment_variable_the_network_libraries_cannot_use_is_refused_at_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    """httpx and grpc read these by themselves, deep in the first request: the runner ended with "Invalid IPv6 URL" or
    an InvalidURL naming no variable, or retried a token request for ever. Refused before anything connects, every
    variable named, a proxy's value (it may carry a password) never repeated."""
    for other in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_DIR", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(variable, value)
    app = WikiApp(_wiki())
    with FakeC1() as fake:
        with pytest.raises(StartupRefused) as refused:
            await asyncio.wait_for(run_service(_config(fake, tmp_path), app, Metrics(PREFIX, app.version)), 10)
        assert fake.connections_accepted == 0
    assert str(refused.value).startswith(named)
    assert "proxy-canary-password" not in str(refused.value)
