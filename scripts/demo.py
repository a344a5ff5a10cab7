"""`make demo`: the daemon against a local fake Datadog and fake ConductorOne, end to end.

Starts both fakes on 127.0.0.1, runs `baton-datadog` in service mode as a subprocess, queues a full sync, a
grant and a revoke through the fake ConductorOne, prints what happened, stops the daemon with SIGTERM and
exits 0 only if every step did what it should. The daemon's log and the c1z it uploaded are kept
(build/demo/daemon.log, build/demo/sync.c1z; `--out DIR` puts them elsewhere) and their paths printed, so what
the daemon did can be read afterwards, the sync with `baton-datadog inspect`.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

_STOPPED_BY: list[str] = []
"""The signal other than Ctrl-C that stopped the demo (SIGTERM, SIGHUP), for its one line."""


def _told_to_stop(signum: int, _frame: object) -> NoReturn:
    """SIGTERM or SIGHUP: stopped as Ctrl-C stops it (the daemon too), and said so."""
    _STOPPED_BY.append(signal.Signals(signum).name)
    raise KeyboardInterrupt


def _exit_interrupted(*_signal: object) -> NoReturn:
    """Ctrl-C ends the demo in one line, exit 130, whenever it comes."""
    print("\ndemo interrupted", file=sys.stderr)
    raise SystemExit(130)


if __name__ == "__main__":
    # Ctrl-C while the imports below load (~0.2 s: argparse, protobuf, the fakes) was a KeyboardInterrupt
    # traceback through them. Nothing has started yet, so nothing is stopped: the demo ends at once. `main` runs
    # with Python's own handler again (a KeyboardInterrupt is how a step's wait learns of Ctrl-C and stops the
    # daemon).
    signal.signal(signal.SIGINT, _exit_interrupted)

import argparse  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "build" / "demo"
sys.path.insert(0, str(ROOT))

from connector.baton.c1z.reader import C1ZReader  # noqa: E402
from connector.baton.pb.c1.connector.v2 import grant_pb2  # noqa: E402
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2  # noqa: E402
from tests.fakes.c1 import FakeC1  # noqa: E402
from tests.fakes.datadog import FakeDatadog, generate_org  # noqa: E402
from tests.fakes.env import connector_env  # noqa: E402
from tests.fakes.net import logged_health_port  # noqa: E402
from tests.fakes.tasks import grant_task, kind_task, revoke_task  # noqa: E402


class StepFailed(Exception):
    """A demo step did not do what it should: one line for the reader, the daemon's log for the detail."""


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise StepFailed(f"timed out waiting for {what}")
        time.sleep(0.1)


def finished(c1: FakeC1, task_id: str) -> baton_pb2.BatonServiceFinishTaskRequest:
    wait_for(f"task {task_id} to finish", lambda: bool(c1.recorded().finish_tasks.get(task_id)))
    return c1.recorded().finish_tasks[task_id][0]


def describe(report: baton_pb2.BatonServiceFinishTaskRequest) -> str:
    if report.HasField("status") and report.status.code:
        return f"FAILED ({report.status.message})"
    annotations = [a.type_url.rsplit(".", 1)[-1] for a in report.success.annotations]
    return "success" + (f" [{', '.join(annotations)}]" if annotations else "")


def stop(daemon: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then its exit code; killed if it has not stopped in 30 s, or at once on a Ctrl-C while waiting
    (which then goes on: nothing is left running)."""
    try:
        daemon.send_signal(signal.SIGTERM)
        return daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        return daemon.wait()
    except KeyboardInterrupt:
        daemon.kill()
        daemon.wait()
        raise


def how_it_stopped(code: int, *, interrupted: bool, by: str = "Ctrl-C") -> str:
    """The daemon's end as its exit code tells it. A terminal's Ctrl-C reaches the whole process group, the daemon
    too, so after one the daemon may have stopped on that SIGINT, on the demo's SIGTERM, or on both: "stopped on
    SIGTERM with exit code 130" named the demo's signal where the daemon's code said SIGINT. `by`: what stopped the
    demo (Ctrl-C, or the SIGTERM or SIGHUP it was sent)."""
    if code < 0:
        return f"ended by {signal.Signals(-code).name}" + (f" after the demo got {by}" if interrupted else "")
    if code == 130:
        return "stopped on Ctrl-C (SIGINT) with exit code 130"
    if interrupted and by == "Ctrl-C":
        return f"stopped after Ctrl-C (and the demo's SIGTERM) with exit code {code}"
    if interrupted:
        return f"stopped on the demo's SIGTERM, the demo having got {by}, with exit code {code}"
    return f"stopped on SIGTERM with exit code {code}"


_EXCERPT = ("baton_datadog_tasks_finished_total", "baton_datadog_api_requests_total")


def metrics_excerpt(scrape: str) -> list[str]:
    """The task outcomes and Datadog requests the demo caused. The series at 0 (every failure outcome of every task
    type is exported at 0 from the start, docs/deployment.md) are counted, not listed: 36 lines of zeros buried the
    three that say what happened."""
    lines = [line for line in scrape.splitlines() if line.startswith(_EXCERPT)]
    shown = [line for line in lines if float(line.rpartition(" ")[2]) != 0]
    zero = len(lines) - len(shown)
    return shown + ([f"({zero} more series at 0)"] if zero else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"where the log and the c1z go (default {OUT_DIR})")
    out = parser.parse_args(argv).out
    ok = True
    interrupted = False
    org = generate_org(users=40, seed=5, teams=5, schedules=0)
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp, FakeDatadog(org) as dd, FakeC1(next_poll=0.2) as c1:
        env = connector_env(
            dd, c1, {"BATON_PROVISIONING": "true", "BATON_HOST_ID": "demo-host", "BATON_C1Z_TEMP_DIR": tmp}
        )
        log_path = out / "daemon.log"
        c1z_path = out / "sync.c1z"
        out.mkdir(parents=True, exist_ok=True)
        c1z_path.unlink(missing_ok=True)
        print(f"fake Datadog  {dd.base_url}  ({len(org.users)} users, {len(org.roles)} roles, {len(org.teams)} teams)")
        print(f"fake ConductorOne  https://{c1.address}")
        with log_path.open("w") as log_file:
            daemon: subprocess.Popen[bytes] | None = None
            try:
                # In the try: a Ctrl-C just after the daemon started stops it as one during a step does.
                daemon = subprocess.Popen(
                    [sys.executable, "-m", "connector"], env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
                )
                started = daemon
                wait_for("the daemon's Hello", lambda: bool(c1.recorded().hellos) or started.poll() is not None)
                if not c1.recorded().hellos:
                    raise StepFailed(f"the daemon exited with code {daemon.poll()} before its Hello")
                # The daemon bound health port 0; it logged the port it got.
                port = logged_health_port(log_path.read_text().splitlines())
                if port is None:
                    raise StepFailed("the daemon did not log its health port")
                print(
                    f"daemon started (pid {daemon.pid}); Hello received from host {c1.recorded().hellos[0].host_id}\n"
                )

                sync = c1.enqueue(kind_task("sync_full"))
                report = finished(c1, sync)
                upload = next((u for u in c1.recorded().uploads if u.task_id == sync), None)
                if upload is None:
                    # A failed sync uploads nothing: the grant and revoke below would only repeat the failure.
                    raise StepFailed(f"1. full sync: {describe(report)}; nothing was uploaded")
                print(f"1. full sync: {describe(report)}; uploaded {upload.size} bytes, checksum ok={upload.ok}")
                assert upload.path is not None
                with C1ZReader(upload.path) as reader:
                    for type_id, counts in sorted(reader.counts_by_type().items()):
                        print(f"     {type_id:<6} resources {counts['resources']:>4}  grants {counts['grants']:>4}")
                # The fake keeps uploads in a directory it deletes on exit.
                shutil.copyfile(upload.path, c1z_path)
                # Quoted for the shell: printed bare, a clone's path with a space in it made the command the
                # reader copies three arguments, refused.
                print(f"     kept as {c1z_path} (baton-datadog inspect {shlex.quote(str(c1z_path))})")
                ok &= not report.HasField("status") and upload.ok

                # A low-privilege role, as a just-in-time grant would usually be.
                role = min(org.roles.values(), key=lambda r: r.name != "Datadog Read Only Role")
                user = next(u for u in org.users.values() if role.id not in u.role_ids and not u.disabled)
                grant = c1.enqueue(grant_task("role", role.id, "member", user.id))
                report = finished(c1, grant)
                response = grant_pb2.GrantManagerServiceGrantResponse()
                report.success.response.Unpack(response)
                has_role = role.id in org.users[user.id].role_ids
                print(f"\n2. grant '{role.name}' to {user.email}: {describe(report)}")
                print(f"     grant ids: {[g.id for g in response.grants]}; Datadog now has the role: {has_role}")
                ok &= has_role and not report.HasField("status")

                revoke = c1.enqueue(revoke_task("role", role.id, "member", user.id))
                report = finished(c1, revoke)
                gone = role.id not in org.users[user.id].role_ids
                print(f"\n3. revoke it: {describe(report)}; Datadog no longer has the role: {gone}")
                ok &= gone and not report.HasField("status")

                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                        metrics = page.read().decode()
                except OSError as exc:
                    raise StepFailed(f"4. /metrics: {exc}") from exc
                print("\n4. metrics excerpt:")
                for line in metrics_excerpt(metrics):
                    print(f"     {line}")
            except StepFailed as failure:
                print(failure)
                ok = False
            except KeyboardInterrupt:
                # Ctrl-C: the daemon is stopped and its log kept as after any step, and this is one line, not a
                # traceback through the step that was waiting.
                print(f"\ninterrupted ({_STOPPED_BY[0] if _STOPPED_BY else 'Ctrl-C'})")
                ok, interrupted = False, True
            finally:
                if daemon is not None:
                    code = stop(daemon)
        lines = len(log_path.read_text().splitlines())
        if daemon is not None:
            by = _STOPPED_BY[0] if _STOPPED_BY else "Ctrl-C"
            print(
                f"\ndaemon {how_it_stopped(code, interrupted=interrupted, by=by)}; its log ({lines} lines): {log_path}"
            )
            ok &= code == 0
    if interrupted:
        print("\ndemo interrupted")
        # 128 + the signal, as a shell reports it: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
        return 128 + (signal.Signals[_STOPPED_BY[0]] if _STOPPED_BY else signal.SIGINT)
    print("\ndemo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # A CI job's timeout (SIGTERM) or a closed terminal (SIGHUP) stops the demo as Ctrl-C does: the daemon is
        # stopped in the step's `finally`. Without a handler the demo died at once and left its daemon running.
        signal.signal(signal.SIGTERM, _told_to_stop)
        signal.signal(signal.SIGHUP, _told_to_stop)
        code = main()
    except KeyboardInterrupt:  # outside a step (the fakes starting, the daemon stopping): nothing left running
        _exit_interrupted()
    raise SystemExit(code)
