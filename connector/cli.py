"""The `baton-datadog` command: `inspect` a c1z, or run the connector (one-shot sync or service mode)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["inspect"]:
        from connector.daemon import inspect  # the c1z reader (SQLite) only for this command

        parser = argparse.ArgumentParser(prog="baton-datadog inspect", description="Show what a .c1z sync file holds.")
        inspect.add_arguments(parser)
        try:
            return inspect.run(parser.parse_args(args[1:]))
        except BrokenPipeError:
            # `inspect ... | head` closed the pipe: not an error, and no traceback for the user.
            sys.stderr.close()
            return 0
    from connector.daemon.main import run_connector

    return run_connector(args)


if __name__ == "__main__":
    raise SystemExit(main())
