from connector.cli import run

raise SystemExit(run())
