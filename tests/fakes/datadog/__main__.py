"""``python -m tests.fakes.datadog --port 8126 --users 1000 --seed 7``: serve a fake Datadog."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time

from tests.fakes.datadog.generate import generate_org
from tests.fakes.datadog.server import DEFAULT_API_KEY, DEFAULT_APP_KEY, serve
from tests.fakes.datadog.web import Faults, RateLimits, State


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.datadog", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8126, help="0: any free port, printed once listening")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--app-key", default=DEFAULT_APP_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of a 503 per request")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="probability of a 429 per request")
    parser.add_argument("--rate-limit", default="6000/60", help="LIMIT/PERIOD_SECONDS per bucket")
    args = parser.parse_args(argv)
    limit, _, period = args.rate_limit.partition("/")
    started = time.perf_counter()
    org = generate_org(users=args.users, seed=args.seed)
    state = State(
        org=org,
        api_key=args.api_key,
        app_key=args.app_key,
        faults=Faults(
            latency=args.latency, error_rate=args.error_rate, throttle_rate=args.throttle_rate, seed=args.seed
        ),
        rate_limits=RateLimits(limit=int(limit), period=float(period or 60)),
    )
    print(
        f"fake Datadog: {len(org.users)} users, {len(org.teams)} teams, {len(org.schedules)} schedules "
        f"(built in {time.perf_counter() - started:.2f}s)",
        file=sys.stderr,
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(state, args.host, args.port))
    except OSError as exc:
        # The default port, 8126, is also the Datadog Agent's trace port: taken on many a Datadog user's machine.
        print(
            f"fake Datadog: cannot listen on {args.host}:{args.port}: {os.strerror(exc.errno) if exc.errno else exc}; "
            "--port 0 takes any free port",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
