"""Run the fake ConductorOne for a demo: `python -m tests.fakes.c1 --env-file c1.env --enqueue sync_full`.

It writes the environment a daemon needs (client id and secret, BATON_C1_API_HOST when used, the CA bundle
for SSL_CERT_FILE and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) to `--env-file` (mode 0600) or prints it, then
serves until SIGINT/SIGTERM, printing each call it receives. While it runs:

    curl --cacert <ca> https://127.0.0.1:<port>/_fake/state
    curl --cacert <ca> -d '{"kind": "sync_full"}' https://127.0.0.1:<port>/_fake/tasks
    curl --cacert <ca> -d '{"mode": "refuse", "seconds": 20}' https://127.0.0.1:<port>/_fake/outage
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from tests.fakes.c1.control import summarize
from tests.fakes.c1.server import FakeC1
from tests.fakes.tasks import kind_task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.c1", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TLS port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--expires-in", type=int, default=3600, help="token lifetime the endpoint advertises")
    parser.add_argument("--token-lifetime", type=float, default=None, help="how long tokens really work")
    parser.add_argument(
        "--tenant-host",
        default=None,
        help="host in the client id (e.g. acme.conductor.one); the daemon then needs BATON_C1_API_HOST",
    )
    parser.add_argument("--next-poll", type=float, default=5.0, help="next_poll seconds in GetTask answers")
    parser.add_argument("--next-heartbeat", type=float, default=0.0, help="next_heartbeat seconds")
    parser.add_argument("--enqueue", action="append", default=[], metavar="KIND", help="queue a task at start")
    parser.add_argument("--env-file", type=Path, default=None, help="write the daemon environment here (0600)")
    parser.add_argument("--state-dir", type=Path, default=None, help="keep certificates and uploads here")
    args = parser.parse_args(argv)

    fake = FakeC1(
        port=args.port,
        expires_in=args.expires_in,
        token_lifetime=args.token_lifetime,
        tenant_host=args.tenant_host,
        next_poll=args.next_poll,
        next_heartbeat=args.next_heartbeat,
        state_dir=args.state_dir,
    )
    try:
        fake.start()
    except OSError as exc:
        print(
            f"fake ConductorOne: cannot listen on 127.0.0.1:{args.port}: "
            f"{os.strerror(exc.errno) if exc.errno else exc}; --port 0 (the default) takes any free port",
            file=sys.stderr,
        )
        return 2
    try:
        for kind in args.enqueue:
            task_id = fake.enqueue(kind_task(kind))
            print(f"queued {kind} task {task_id}", flush=True)
        lines = [f"export {key}={shlex.quote(value)}" for key, value in fake.env().items()]
        if args.env_file is not None:
            fd = os.open(args.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as env_file:
                env_file.write("\n".join(lines) + "\n")
            print(f"daemon environment written to {args.env_file}", flush=True)
        else:
            print("\n".join(lines), flush=True)
        print(f"fake ConductorOne on https://{fake.address} (CA {fake.ca_cert_path}); Ctrl-C to stop", flush=True)

        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        printed = 0
        stopping = False
        while not stopping:
            stopping = stop.wait(0.5)
            calls = fake.recorded().calls
            for call in calls[printed:]:
                print(f"{call.method} -> {call.code}", flush=True)
            printed = len(calls)
        print(json.dumps(summarize(fake.recorded()), indent=2), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
