"""Check: a digest of every row a one-shot sync of a small org stores (resource, entitlement and grant ids and
blobs). A change to the sync hot path (builders, Datadog decoding, the engine) must leave it unchanged: run it
before and after the change and compare (docs/benchmarks.md, "Datadog sync: CPU, wall and memory").

Org: 300 users, 20 roles, 30 teams, 5 On-Call schedules, 20 API keys, service-account application keys and
access tokens on, so every builder (user, group, role and secret traits, timestamps, profiles) is exercised.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.env import connector_env

ROOT = Path(__file__).resolve().parents[1]


def main() -> dict[str, object]:
    org = generate_org(users=300, seed=7, teams=30, schedules=5, api_keys=20, custom_roles=17)
    with FakeDatadog(org) as fake, tempfile.TemporaryDirectory() as tmp:
        c1z = Path(tmp) / "sync.c1z"
        env = connector_env(
            fake,
            extra={
                "BATON_SYNC_SCHEDULES": "true",
                "BATON_SYNC_SECRETS": "true",
                "BATON_SYNC_SERVICE_ACCOUNT_APPLICATION_KEYS": "true",
                "BATON_FILE": str(c1z),
                "BATON_LOG_LEVEL": "warn",
            },
        )
        done = subprocess.run([sys.executable, "-m", "connector"], env=env, cwd=ROOT, capture_output=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"connector failed:\n{done.stderr[-2000:].decode(errors='replace')}")
        digest = hashlib.sha256()
        counts: dict[str, int] = {}
        with C1ZReader(c1z, tmp_dir=Path(tmp)) as reader:
            conn = reader.connection
            for table, key in (
                ("v1_resource_types", "external_id"),
                ("v1_resources", "external_id"),
                ("v1_entitlements", "external_id"),
                ("v1_grants", "external_id"),
            ):
                rows = conn.execute(f"SELECT {key}, data FROM {table} ORDER BY {key}").fetchall()
                counts[table] = len(rows)
                for external_id, data in rows:
                    digest.update(f"{table}\0{external_id}\0".encode() + bytes(data) + b"\0")
        return {"rows": counts, "sha256": digest.hexdigest()}


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
