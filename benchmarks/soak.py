"""Soak: the service-mode daemon under a steady mix of tasks and seeded random faults, then its invariants.

Run by hand (`.venv/bin/python -m benchmarks.soak --minutes 10 --seed 7`); it is not in `make bench`'s list, whose
runs rewrite docs/benchmarks.md. The daemon runs as its own process (tests/e2e/harness.py's `Stack`, with
provisioning and secrets on) against the fake Datadog and the fake ConductorOne on 127.0.0.1. For `--minutes` a
feeder enqueues tasks (full syncs; grants and revokes of role membership, team membership and team admin; credential
issue and delete; account creation; action schemas and `update_user`) while an injector, drawing from the same seed,
scripts faults: Datadog 429s with pacing headers, 5xx, slow answers and connections cut mid-answer; ConductorOne
UNAVAILABLE on GetTask/FinishTask/Heartbeat and its token endpoint answering 503 or 429. Then the faults stop, the
queue drains, and the checks run (docs/service-mode.md, "Soak"):

- every task handed out has exactly one FinishTask, or an error line `task not reported to ConductorOne` naming it;
- per (entitlement, user), the fake Datadog holds what the last successfully reported grant or revoke says;
- every credential live in Datadog that was not there before the run was handed over by a success report, and not
  deleted by a successful delete since;
- no secret (given or issued, the issued keys decrypted from the reports) in the daemon's stdout or stderr;
- no traceback in its output; RSS and open descriptors at the end within a few MB / a few of what they were after
  the first full sync; /readyz still 200; SIGTERM ends it with exit status 0 (docs/service-mode.md).

Prints one JSON object: the counts, the measurements, the load average, and `violations` (empty when all held); the
exit status is 1 when any invariant broke.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import struct_pb2

from benchmarks.measure import load_average, proc_rss_mb
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.e2e.harness import Daemon, Stack
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.tasks import grant_task, kind_task, revoke_task

SETTINGS = {
    "BATON_PROVISIONING": "true",
    "BATON_SYNC_SECRETS": "true",
    "BATON_SYNC_SERVICE_ACCOUNT_APPLICATION_KEYS": "true",
    "BATON_ALLOW_ORG_API_KEY_DELETION": "true",
    "BATON_LOG_LEVEL": "info",
}
VECTOR = "jwk-ed25519.json"
CREDENTIAL_KINDS = ("service-account-application-key", "api-key", "service-account-access-token")
ISSUE_RESPONSE = "type.googleapis.com/c1.connector.v2.IssueCredentialResponse"
DRAIN_SECONDS = 120.0
RSS_SLACK_MB = 8.0
FD_SLACK = 4

Key = tuple[str, str, str, str]  # (resource type, resource id, slug, user id)


@dataclass
class Plan:
    """What the feeder asked for, to judge the daemon's reports against."""

    tasks: dict[str, str] = field(default_factory=dict)  # task id -> kind
    access: list[tuple[str, Key, bool]] = field(default_factory=list)  # (task id, key, grant?) in enqueue order
    issues: list[str] = field(default_factory=list)
    deletes: dict[str, str] = field(default_factory=dict)  # task id -> credential id
    syncs: list[str] = field(default_factory=list)


class Soak:
    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack, self.rng = stack, rng
        self.plan = Plan()
        self.lock = threading.Lock()
        org = stack.dd.org
        self.sa = org.add_user("soak-robot@example.com", name="Soak Robot", service_account=True, status="Active")
        humans = [u.id for u in org.sorted_users() if not u.service_account and u.status == "Active"]
        # Disjoint users per kind of access, so one key's operations never change another key's state (a team
        # membership revoke also ends an admin's role).
        third = max(1, len(humans) // 3)
        self.role_users, self.member_users, self.admin_users = (
            humans[:third],
            humans[third : 2 * third],
            humans[2 * third :],
        )
        self.roles = sorted(org.roles)[:4]
        self.teams = sorted(org.teams)[:4]
        self.renamed = humans[0]
        self.configs = configs_of(load(VECTOR))
        self.private_key = load(VECTOR)["private_keys"][0]
        self.keys_before = self.live_keys()

    def live_keys(self) -> set[str]:
        org = self.stack.dd.org
        return set(org.app_keys) | set(org.api_keys) | set(org.tokens)

    # ---- tasks ------------------------------------------------------------------------------------------------

    def enqueue(self, task: baton_pb2.Task, kind: str) -> str:
        with self.lock:
            self.plan.tasks[task.id] = kind
        self.stack.c1.enqueue(task)
        return task.id

    def access_task(self) -> None:
        kind = self.rng.choice(("role", "member", "admin"))
        if kind == "role":
            key: Key = ("role", self.rng.choice(self.roles), "member", self.rng.choice(self.role_users))
        elif kind == "member":
            key = ("team", self.rng.choice(self.teams), "member", self.rng.choice(self.member_users))
        else:
            key = ("team", self.rng.choice(self.teams), "admin", self.rng.choice(self.admin_users))
        grant = self.rng.random() < 0.5
        task = (grant_task if grant else revoke_task)(*key)
        with self.lock:
            self.plan.access.append((task.id, key, grant))
        self.enqueue(task, "grant" if grant else "revoke")

    def issue_task(self) -> None:
        task = baton_pb2.Task(id=new_ksuid())
        issue = task.issue_credential
        issue.identity_id.resource_type, issue.identity_id.resource = "user", self.sa.id
        kind = self.rng.choice(CREDENTIAL_KINDS)
        issue.credential_options.secret_resource_type_id = kind
        if kind == "service-account-access-token":
            issue.credential_options.token.scopes.append("dashboards_read")
        else:
            issue.credential_options.api_key.SetInParent()
        issue.encryption_configs.extend(self.configs)
        with self.lock:
            self.plan.issues.append(task.id)
        self.enqueue(task, "issue_credential")

    def delete_task(self) -> None:
        issued = self.issued_ids()
        with self.lock:
            candidates = sorted(set(issued) - set(self.plan.deletes.values()))
        if not candidates:
            return self.issue_task()
        secret_id = self.rng.choice(candidates)
        task = baton_pb2.Task(id=new_ksuid())
        task.delete_resource.resource_id.CopyFrom(issued[secret_id])
        with self.lock:
            self.plan.deletes[task.id] = secret_id
        self.enqueue(task, "delete_resource")
        return None

    def account_task(self) -> None:
        task = kind_task("create_account")
        task.create_account.account_info.profile.update({"email": f"soak-{new_ksuid().lower()}@example.com"})
        self.enqueue(task, "create_account")

    def action_task(self) -> None:
        choice = self.rng.random()
        task = baton_pb2.Task(id=new_ksuid())
        if choice < 0.3:
            task.action_list_schemas.resource_type_id = "user"
        elif choice < 0.5:
            task.action_get_schema.name = "update_user"
        else:
            task.action_invoke.name = "update_user"
            task.action_invoke.resource_type_id = "user"
            args = struct_pb2.Struct()
            args.update(
                {"user_id": {"resource_type_id": "user", "resource_id": self.renamed}, "name": f"Soak {new_ksuid()}"}
            )
            task.action_invoke.args.CopyFrom(args)
        self.enqueue(task, "action")

    def sync_task(self) -> None:
        task = kind_task("sync_full")
        with self.lock:
            self.plan.syncs.append(task.id)
        self.enqueue(task, "sync_full")

    def next_task(self) -> None:
        weights: list[tuple[Callable[[], None], float]] = [
            (self.access_task, 0.55),
            (self.issue_task, 0.1),
            (self.delete_task, 0.08),
            (self.account_task, 0.07),
            (self.action_task, 0.1),
            (self.sync_task, 0.02),
        ]
        pick = self.rng.random() * sum(w for _, w in weights)
        for make, weight in weights:
            pick -= weight
            if pick <= 0:
                make()
                return
        weights[0][0]()

    # ---- faults -----------------------------------------------------------------------------------------------

    def fault(self) -> str:
        dd, c1, rng = self.stack.dd, self.stack.c1, self.rng
        choice = rng.randrange(9)
        # A slow spell lasts until the next fault is drawn (the hostile "hang" mode answers an empty list,
        # which is no slow answer but a wrong one for most paths).
        dd.faults.latency = 0.0
        if choice == 0:
            dd.faults.force(429, times=rng.randint(1, 3), reset=rng.randint(1, 2))
            return "datadog 429"
        if choice == 1:
            dd.faults.force(rng.choice((500, 502, 503, 504)), times=rng.randint(1, 2))
            return "datadog 5xx"
        if choice == 2:
            dd.faults.latency = rng.uniform(0.2, 1.5)
            return "datadog slow"
        if choice == 3:
            dd.faults.hostile("truncated", times=1)
            return "datadog cut"
        if choice in (4, 5):
            method = rng.choice(("GetTask", "FinishTask", "Heartbeat"))
            c1.fail_next(method, grpc.StatusCode.UNAVAILABLE, times=rng.randint(1, 2))
            return f"c1 {method} unavailable"
        if choice == 6:
            c1.fail_token_requests(503, times=1)
            return "c1 token 503"
        if choice == 7:
            c1.fail_token_requests(429, times=1, retry_after=("1",))
            return "c1 token 429"
        return "none"

    # ---- judging ----------------------------------------------------------------------------------------------

    def finishes(self) -> dict[str, list[baton_pb2.BatonServiceFinishTaskRequest]]:
        return self.stack.c1.recorded().finish_tasks

    def issued_ids(self) -> dict[str, resource_pb2.ResourceId]:
        """Credential id -> resource id, from the issue tasks' success reports."""
        out: dict[str, resource_pb2.ResourceId] = {}
        finishes = self.finishes()
        with self.lock:
            issues = list(self.plan.issues)
        for task_id in issues:
            response = issue_response(finishes.get(task_id, []))
            if response is not None:
                out[datadog_id(response.secret.id.resource)] = response.secret.id
        return out

    def issued_values(self) -> list[str]:
        values = []
        finishes = self.finishes()
        for task_id in self.plan.issues:
            response = issue_response(finishes.get(task_id, []))
            if response is None:
                continue
            for encrypted in response.encrypted_data:
                document = json.loads(decrypt(encrypted.provider, encrypted.encrypted_bytes, self.private_key))
                values.append(str(document["key_value"]))
        return values

    def holds(self, key: Key) -> bool:
        org = self.stack.dd.org
        rtype, rid, slug, uid = key
        if rtype == "role":
            return uid in org.role_members.get(rid, {})
        members = org.teams[rid].members
        if slug == "member":
            return uid in members
        return uid in members and members[uid].role == "admin"


def issue_response(
    finishes: list[baton_pb2.BatonServiceFinishTaskRequest],
) -> resource_pb2.IssueCredentialResponse | None:
    for finish in finishes:
        if finish.WhichOneof("final_state") == "success" and finish.success.response.type_url == ISSUE_RESPONSE:
            response = resource_pb2.IssueCredentialResponse()
            finish.success.response.Unpack(response)
            return response
    return None


def datadog_id(resource: str) -> str:
    """The Datadog id of a credential resource: a service access token's resource id is `sat:` and the base64 of
    its owner and its id joined by a NUL (so a delete knows the owner); the keys' are their Datadog ids."""
    if resource.startswith("sat:"):
        raw = base64.urlsafe_b64decode(resource[4:] + "=" * (-len(resource[4:]) % 4))
        return raw.split(b"\0", 1)[1].decode()
    return resource


def succeeded(finishes: list[baton_pb2.BatonServiceFinishTaskRequest]) -> bool:
    return any(f.WhichOneof("final_state") == "success" for f in finishes)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def check(soak: Soak, daemon: Daemon) -> list[str]:
    violations: list[str] = []
    finishes = soak.finishes()
    unreported = {str(r.get("task_id")) for r in daemon.events("task not reported to ConductorOne")}
    handed_out = soak.stack.c1.recorded().handed_out_at
    for task_id, kind in soak.plan.tasks.items():
        count = len(finishes.get(task_id, []))
        if task_id not in handed_out:
            violations.append(f"{kind} task {task_id} was never handed out")
        elif count != 1 and not (count == 0 and task_id in unreported):
            violations.append(f"{kind} task {task_id} has {count} FinishTask(s)")
    last: dict[Key, tuple[str, bool]] = {}
    for task_id, key, grant in soak.plan.access:
        if succeeded(finishes.get(task_id, [])):
            last[key] = (task_id, grant)
    for key, (task_id, grant) in last.items():
        if soak.holds(key) != grant:
            violations.append(
                f"{':'.join(key)}: the last successful task {task_id} was a {'grant' if grant else 'revoke'}, Datadog says otherwise"
            )
    issued = set(soak.issued_ids())
    deleted = {cid for tid, cid in soak.plan.deletes.items() if succeeded(finishes.get(tid, []))}
    live = soak.live_keys() - soak.keys_before
    for cid in sorted(live - (issued - deleted)):
        why = "deleted by a successful delete task" if cid in deleted else "handed over by no success report"
        violations.append(f"credential {cid} is live in Datadog but {why}")
    for cid in sorted((issued - deleted) - live):
        violations.append(f"credential {cid} was reported issued and not deleted, but is gone from Datadog")
    output = daemon.output()
    leaked = soak.stack.leaks(output) + [
        f"issued credential #{i}" for i, v in enumerate(soak.issued_values()) if v in output
    ]
    violations += [f"secret in the daemon's output: {name}" for name in leaked]
    if "Traceback" in output:
        violations.append("a traceback in the daemon's output")
    return violations


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--task-interval", type=float, default=0.4, help="mean seconds between tasks")
    parser.add_argument("--fault-interval", type=float, default=1.5, help="mean seconds between faults")
    args = parser.parse_args()
    return run(args.minutes, seed=args.seed, task_interval=args.task_interval, fault_interval=args.fault_interval)


def run(minutes: float, *, seed: int, task_interval: float = 0.4, fault_interval: float = 1.5) -> dict[str, object]:
    """One soak of `minutes` (then the drain and the checks); the result `main` prints."""
    rng = random.Random(seed)
    org = generate_org(users=60, seed=seed, teams=6)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        FakeDatadog(
            org,
            api_key=f"soak-canary-api-{rng.getrandbits(96):024x}",
            app_key=f"soak-canary-app-{rng.getrandbits(128):032x}",
        ) as dd,
        FakeC1(next_poll=0.2, next_heartbeat=1.0) as c1,
    ):
        stack = Stack(c1=c1, dd=dd, root=Path(tmp))
        soak = Soak(stack, rng)
        daemon = stack.start(SETTINGS)
        try:
            first = kind_task("sync_full")
            soak.plan.syncs.append(first.id)
            soak.enqueue(first, "sync_full")
            daemon.wait_for(lambda: bool(soak.finishes().get(first.id)), timeout=60, what="the first sync")
            time.sleep(1.0)
            rss_first, fds_first = proc_rss_mb(daemon.pid), fd_count(daemon.pid)
            faults: dict[str, int] = {}
            end = time.monotonic() + minutes * 60
            next_task = next_fault = time.monotonic()
            while time.monotonic() < end:
                if not daemon.alive():
                    raise SystemExit(f"the daemon died during the soak\n{daemon.tail()}")
                now = time.monotonic()
                if now >= next_task:
                    soak.next_task()
                    next_task = now + rng.expovariate(1 / task_interval)
                if now >= next_fault:
                    name = soak.fault()
                    faults[name] = faults.get(name, 0) + 1
                    next_fault = now + rng.expovariate(1 / fault_interval)
                time.sleep(max(0.0, min(next_task, next_fault) - time.monotonic()))
            # Drain: no new faults; what is scripted and unserved is dropped so the queue can empty.
            dd.faults.latency = 0.0
            with dd.faults.lock:
                dd.faults.scripted.clear()
                dd.faults.hostile_script.clear()
            wanted = list(soak.plan.tasks)
            daemon.wait_for(
                lambda: all(soak.finishes().get(t) for t in wanted),
                timeout=DRAIN_SECONDS,
                what="every task's FinishTask",
                interval=0.5,
            )
            # One last sync on a quiet stack, so the memory compared is after the same work as the first figure.
            last_sync = kind_task("sync_full")
            soak.enqueue(last_sync, "sync_full")
            daemon.wait_for(lambda: bool(soak.finishes().get(last_sync.id)), timeout=60, what="the last sync")
            time.sleep(1.0)
            rss_end, fds_end = proc_rss_mb(daemon.pid), fd_count(daemon.pid)
            violations = check(soak, daemon)
            if rss_end - rss_first > RSS_SLACK_MB:
                violations.append(f"RSS grew from {rss_first:.1f} MB after the first sync to {rss_end:.1f} MB")
            if fds_end - fds_first > FD_SLACK:
                violations.append(f"open descriptors grew from {fds_first} after the first sync to {fds_end}")
            if daemon.status("/readyz") != 200:
                violations.append(f"/readyz answers {daemon.status('/readyz')} at the end")
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait_exit(30)
            if code != 0:
                violations.append(f"SIGTERM ended the daemon with exit status {code}, not 0")
            finishes = soak.finishes()
            outcomes: dict[str, int] = {}
            errors: dict[str, int] = {}
            for task_id, kind in soak.plan.tasks.items():
                state = (
                    "/".join(f.WhichOneof("final_state") or "none" for f in finishes.get(task_id, [])) or "unreported"
                )
                outcomes[f"{kind} {state}"] = outcomes.get(f"{kind} {state}", 0) + 1
                for f in finishes.get(task_id, []):
                    if f.WhichOneof("final_state") == "error":
                        what = f"{kind}: {f.status.code} {f.status.message[:160]}"
                        errors[what] = errors.get(what, 0) + 1
            return {
                "minutes": minutes,
                "seed": seed,
                "wall_seconds": round(time.monotonic() - started, 1),
                "tasks": len(soak.plan.tasks),
                "outcomes": dict(sorted(outcomes.items())),
                "errors": dict(sorted(errors.items())),
                "faults": dict(sorted(faults.items())),
                "datadog_requests": len(dd.requests()),
                "rss_mb_after_first_sync": round(rss_first, 1),
                "rss_mb_end": round(rss_end, 1),
                "fds_after_first_sync": fds_first,
                "fds_end": fds_end,
                "load_average": load_average(),
                "violations": violations,
                "log_tail": daemon.tail(15) if violations else "",
            }
        finally:
            stack.stop_all()


if __name__ == "__main__":
    result = main()
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    sys.exit(1 if result["violations"] else 0)
