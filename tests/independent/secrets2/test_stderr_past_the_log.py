"""What the interpreter itself prints to stderr while the daemon's log writer owns it: a library's log call whose
record cannot be formatted (logging's own "--- Logging error ---", which prints the call's arguments), an exception
no one caught in a thread (`threading.excepthook`), one raised where nothing can catch it (`sys.unraisablehook`: a
`__del__`, a coroutine's close), and a Python warning. Each wrote the text it was given, past the log redactor, to the
process's stderr: a secret among the arguments or in an exception's message went out whole. The last three are log
lines of their own now (`logging._route_python_output`, tests/independent/operator2); logging's own error, and those
hooks' fallbacks, still print: what reaches the stream is redacted line by line. Only a process shows it: the log
writer owns the stream only when it is the process's own stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.daemon.cli import ROOT, clean_env
from tests.independent.secrets.canaries import BASE64, ESCAPED, QUOTE_FORMAT, leaked

CANARIES = (QUOTE_FORMAT, BASE64, ESCAPED)

_SCRIPT = textwrap.dedent(
    """
    import gc, json, logging, sys, threading, warnings
    from connector.daemon import logging as logs

    secrets = json.loads(sys.argv[1])
    logs.configure("info", "json")
    for secret in secrets:
        logs.register_secret(secret)
    for secret in secrets:
        logging.getLogger("httpx").warning("marker-format %s %s", secret)  # one argument short: unformattable

        def fail(secret=secret):
            raise RuntimeError(f"marker-thread {secret}")

        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()

        class Finalised:
            def __del__(self, secret=secret):
                raise RuntimeError(f"marker-unraisable {secret}")

        Finalised()
        gc.collect()
        warnings.warn(f"marker-warning {secret}", stacklevel=1)
    sys.exit(0 if logs.finish() else 1)
    """
)


def test_what_the_interpreter_prints_to_stderr_holds_no_secret() -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(CANARIES)],
        env=clean_env({"PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "always"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for marker in ("Logging error", "marker-thread", "marker-unraisable", "marker-warning"):
        assert result.stderr.count(marker) >= len(CANARIES), (marker, result.stderr[-2000:])
    assert not leaked(result.stderr + result.stdout, *CANARIES), result.stderr[-2000:]
