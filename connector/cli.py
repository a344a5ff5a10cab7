"""The `baton-datadog` command: `inspect`, `capabilities`, `config`, or run the connector (one-shot or service).

This is the process boundary: whatever escapes below ends here as one line on stderr and an exit code, never a
raw traceback (the traceback is logged only at debug level, for a bug report).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import errno
import io
import json
import os
import re
import resource
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import NoReturn, TextIO

from connector.daemon import startgc

EXIT_INTERNAL = 1


class _Terminated(BaseException):
    """SIGTERM before the run installed its own handler (imports, settings, start-up checks)."""


def _terminated(signum: int, frame: object) -> None:
    _stop_underway()
    raise _Terminated


def _stop_underway() -> None:
    """A stop is being handled: a second signal is no new exception raised through the first one's handling. A
    terminal's Ctrl-C and a SIGTERM come together (`make demo` stopping its daemon; a supervisor's after a Ctrl-C):
    the SIGTERM ended the SIGINT's "interrupted while starting" in a `_Terminated` traceback, exit 1. That second
    signal is let go (`_let_go_once`), and a third ends the process as the default would: ignored for good, a stop whose
    handling waited on a thread stuck at start-up (a CA file that never reads) left a process only SIGKILL could end.
    `main` puts both handlers back as it returns."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _let_go_once)


def _let_go_once(signum: int, frame: FrameType | None) -> None:
    """A signal while a stop is handled (`_stop_underway`): let go, and any signal after it ends the process, whichever
    it is (TERM, INT, TERM took a fourth)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _exiting(signum: int, frame: FrameType | None) -> None:
    """The run is over, its outcome decided, written and its exit code chosen; the process is only exiting. The run's
    own handlers are gone by then (asyncio's restore the defaults when its loop closes), and a SIGTERM there killed a
    finished sync's process without a word (-15, after its summary and "wrote sync file"), a SIGINT ended it with -2:
    a supervisor or a script took a saved sync for a failed one. The first such signal is let go and the exit code
    stands; a second one ends the process at once, as the default would (a teardown stuck on a stalled pipe stays
    stoppable). Only that signal's default: a Ctrl-C and a supervisor's SIGTERM arriving together at a finished run
    keep its exit code."""
    signal.signal(signum, signal.SIG_DFL)


def _quiet_finalization() -> None:
    """The last exit callback (registered when this module is imported, before the libraries register theirs; they run
    last-registered first): the interpreter's finalization that follows runs no Python handler (it puts the default
    back for each), so a first signal there is ignored rather than kill the process. A signal already let go by
    `_exiting` has put the default back, and the next one still ends the process."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(sig) is _exiting:
            signal.signal(sig, signal.SIG_IGN)


atexit.register(_quiet_finalization)


def run() -> int:
    """The process's entry point (`baton-datadog`, `python -m connector`): `main`, then a first SIGTERM or SIGINT
    while the process exits leaves the exit code alone (`_exiting`). Only here: a test or a program calling `main`
    keeps its own handlers (a Ctrl-C after `main` returned was swallowed, and a second `main` ignored one). The exit
    waits a bounded time for worker threads (`exiting.leave`): one held by a DNS lookup that never answers kept a
    finished run's process for good."""
    code = main(afterwards=_exiting)
    from connector.daemon.exiting import leave

    return leave(code)


def _no_core_dumps() -> None:
    """Turn core dumps off for this process. The process holds the Datadog keys, the ConductorOne client secret and,
    between a mint and its encryption, an issued credential's plaintext: a crash of any native library (OpenSSL,
    grpc's C core, pyrage) would otherwise write all of its memory to a core file, in the working directory or to the
    node's crash collector. Container runtimes commonly start processes with an unlimited core size (containerd's
    LimitCORE=infinity). Only the soft limit is lowered: that is the one the kernel dumps by, and an operator who
    needs a dump for a bug report can still raise it (`prlimit`)."""
    with contextlib.suppress(OSError, ValueError):  # a platform without the limit: nothing to turn off
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))


def main(
    argv: Sequence[str] | None = None, *, afterwards: Callable[[int, FrameType | None], None] | None = None
) -> int:
    """The CLI; SIGTERM and SIGINT are handled as they were before it as it returns, or by `afterwards` (`run`'s
    `_exiting`): installed here, not once `main` has returned, so no signal falls between the two (the demo's SIGTERM
    after a Ctrl-C killed its daemon there, -15)."""
    _no_core_dumps()  # first: before the settings (and so the secrets) are read
    from connector.daemon import outcome, proclimits

    outcome.forget()
    umask = proclimits.lift_umask()  # before anything makes a file or directory (a umask of 0777 made them unusable)
    open_files = proclimits.raise_open_file_limit()  # before the imports open theirs
    startgc.pause()  # young collections only until the start is over: before the imports below (startgc.py)
    from connector.daemon import logging as logs

    args = list(sys.argv[1:] if argv is None else argv)
    logs.silence_native_logs()  # before anything imports grpc
    # Until the one-shot sync or the service installs its own handler, SIGTERM would kill the process without a
    # word (a -15 to the caller, not 143): stop like SIGINT does instead. Those handlers replace this one.
    previous = signal.signal(signal.SIGTERM, _terminated)
    previous_sigint = signal.getsignal(signal.SIGINT)
    _open_standard_streams()
    stdout = sys.stdout
    output = _Output(stdout)
    sys.stdout = output
    mask: set[int | signal.Signals] | None = None
    try:
        # Before any thread is made (each takes its creator's mask), and with the handlers above in place: a stop
        # signal sent while a parent kept it blocked is delivered here, and ends the run as one during the start does
        # (143 or 130), not silently (-15) or in a traceback (review r1404).
        mask = proclimits.unblock_stop_signals()
        if len(args) > MAX_ARGUMENTS:
            # Counted before any parser reads them: argparse's work grows with the square of the flags it is given
            # (100,000 took minutes of CPU before its usage error), and none is shown (one may be a key).
            print(
                f"baton-datadog: {len(args):,} arguments given; at most {MAX_ARGUMENTS:,} are taken (many "
                "--sync-resources: give them comma-separated in one, or in BATON_SYNC_RESOURCES or the config file)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        code = _dispatch(args)
        sys.stdout.flush()  # here, not at exit: a failed write is this run's failure, named below
        output.raise_failure()  # one a writer swallowed (argparse's print_help, for the `help` command)
        return code
    except SystemExit as done:  # --help, --version: they print, then exit
        if done.code not in (0, None):
            raise
        try:
            sys.stdout.flush()
            # argparse prints its help and version through a writer that ignores OSError: the failure it
            # swallowed is only known here.
            output.raise_failure()
        except OutputError as exc:
            return _cannot_write(exc, stdout)
        except BrokenPipeError:
            return _pipe_closed(stdout)
        raise
    except OutputError as exc:
        return _cannot_write(exc, stdout)
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error, and no traceback for the user.
        return _pipe_closed(stdout)
    except KeyboardInterrupt:
        return _interrupted(signal.SIGINT)
    except _Terminated:
        return _interrupted(signal.SIGTERM)
    except Exception as exc:  # the boundary: one clear line instead of a traceback
        return _unexpected(exc, args)
    finally:
        signal.signal(signal.SIGTERM, afterwards or previous)
        if afterwards is not None or previous_sigint is not None:  # None: not set from Python, cannot be put back
            signal.signal(signal.SIGINT, afterwards or previous_sigint)
        if isinstance(sys.stdout, _Output):
            sys.stdout = stdout
        startgc.resume()
        if afterwards is None:
            # Called by another program in its own process (and by tests): its umask, signal mask and open-file limit
            # are put back as its handlers are. `run` leaves them: the process ends, and its last signals must get
            # through. Core dumps stay off (`_no_core_dumps`): the keys this run read may still be in that process's
            # memory.
            os.umask(umask)
            proclimits.restore_open_file_limit(open_files)
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        logs.drain()  # the run's last lines written before `main` returns (bounded: a stream nobody reads is left)


def _open_standard_streams() -> None:
    """Descriptors 0-2 that the caller closed (`2>&-`, `>&-`, a supervisor) are opened on /dev/null, and Python's
    streams for them (None then) are made again: `sys.stderr.isatty()` ended a sync as an unexpected error, and
    `--version >&-` was a traceback. Left closed, each number would go to the next file the run opens (the c1z, a
    socket), where a stray write (a native library's line to fd 2) would land. A closed stdout stays a failure:
    output written to it is "cannot write the output", as nothing can read it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one, unless it was taken meanwhile
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = _Closed()
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115  # the process's stream, for as long as it runs


class _Closed(io.TextIOBase):
    """Standard output that the caller closed: every write fails as writing to a closed descriptor does."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def fileno(self) -> int:
        return 1

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed declares a plain attribute
        return "utf-8"


class OutputError(OSError):
    """Standard output could not be written (`inspect ... > /dev/full`, a full disk under a redirect): the
    output is what failed, not the connector."""


class _Output(io.TextIOBase):
    """Standard output, whose write failures are `OutputError`s (a closed pipe stays a BrokenPipeError)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._failure: OutputError | None = None

    def raise_failure(self) -> None:
        """Raise the first write failure again, for callers whose writer swallowed it."""
        if self._failure is not None:
            raise self._failure

    def write(self, text: str) -> int:
        with self._failures():
            try:
                return self._inner.write(text)
            except UnicodeEncodeError:
                # A name from a c1z (what a Datadog user typed) that the output's encoding has no character for
                # (PYTHONIOENCODING=ascii, a Latin-1 locale): escaped as stderr does (`\xeb`), not a failed run.
                encoding = self._inner.encoding or "ascii"
                return self._inner.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def flush(self) -> None:
        with self._failures():
            self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed declares a plain attribute
        return self._inner.encoding

    def fileno(self) -> int:
        return self._inner.fileno()

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            failure = OutputError(exc.errno, exc.strerror)
            self._failure = self._failure or failure
            raise failure from None


def _cannot_write(exc: OutputError, stdout: TextIO) -> int:
    from connector.baton.printable import printable
    from connector.daemon import logging as logs
    from connector.daemon import outcome

    _drop_pending(stdout)
    # What the run did stands (a sync file written, a change made in Datadog): said, or it was taken for undone and
    # run again. Redacted, bounded and inert as every closing line: an action's result quotes what Datadog answered.
    done = outcome.done()
    done_text = f"; {printable(logs.bounded(logs.redact(done)))}" if done else ""
    print(f"baton-datadog: cannot write the output: {exc.strerror or exc}{done_text}", file=sys.stderr)
    return EXIT_INTERNAL


def _pipe_closed(stdout: TextIO) -> int:
    _drop_pending(stdout)
    sys.stderr.close()
    return 0


def _drop_pending(stdout: TextIO) -> None:
    """What is still buffered has nowhere to go; written at exit, it would fail again with Python's own message."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())


def _interrupted(sig: signal.Signals) -> int:
    _stop_underway()
    print(f"baton-datadog: interrupted by {sig.name} while starting; nothing was written", file=sys.stderr)
    return 128 + int(sig)


def _dispatch(args: list[str]) -> int:
    found = _command(args)
    if isinstance(found, int):
        return found
    command, rest = found
    if command is None:
        from connector.daemon.main import run_connector

        return run_connector(args)
    startgc.resume()  # the commands have no start to speed up; the connector's run decides for itself
    try:
        return _run_command(command, rest)
    except (KeyboardInterrupt, _Terminated) as stopped:
        _stop_underway()
        # Said as what it is: "while starting; nothing was written" is the run's line, and an `inspect` stopped
        # after seconds of listing (a reader that stopped reading) had started and written.
        sig = signal.SIGINT if isinstance(stopped, KeyboardInterrupt) else signal.SIGTERM
        print(f"baton-datadog: {command}: interrupted by {sig.name}", file=sys.stderr)
        return 128 + int(sig)


def _run_command(command: str, rest: list[str]) -> int:
    if command == "inspect":
        from connector.daemon import inspect
        from connector.daemon.settings import dash_lookalike

        parser = _inspect_parser()
        end = rest.index("--") if "--" in rest else len(rest)
        if lookalike := next(
            (found for arg in rest[:end] if (found := dash_lookalike(arg)) and not os.path.lexists(arg)), ""
        ):
            # `inspect —grants` (a flag pasted from a formatted page) was "—grants: no such file", taken for the file
            # as argparse takes any word not starting with '-'; beside a file, "1 unexpected argument(s)". Every other
            # place an argument is read names the character (README).
            print(
                f"baton-datadog: inspect: an argument {lookalike}; see baton-datadog inspect --help for its flags",
                file=sys.stderr,
            )
            return EXIT_USAGE
        # Not parse_args: its refusal quotes the unknown arguments, and one may be a key (`--api-key=...`).
        parsed, leftover = parser.parse_known_args(rest)
        if leftover:
            from connector.daemon.settings import known_flags

            print(f"baton-datadog: inspect: {_inspect_leftover(leftover, known_flags(parser))}", file=sys.stderr)
            return EXIT_USAGE
        if parsed.file is not None and (instead := _ELSEWHERE.get(str(parsed.file))) and not parsed.file.exists():
            # `baton-datadog inspect grants`, as `baton grants`: "grants: no such file" said nothing of --grants.
            print(f"baton-datadog: inspect: {parsed.file}: no such file; {parsed.file}: {instead}", file=sys.stderr)
            return EXIT_USAGE
        return inspect.run(parsed)
    if command == "help":
        return _help(rest)
    if command == "completion":
        return _completion(rest)
    if command == "capabilities":
        return _capabilities(rest)
    return _config(rest)


def _inspect_leftover(leftover: list[str], known: frozenset[str]) -> str:
    """The line for what inspect's parser did not take. A setting's flag (`--log-level debug inspect`, as flags stand
    before `capabilities` or `config`) was "unknown flag --log-level", a flag --help lists: it is named as a setting,
    which inspect, reading a file, takes none of. A hidden one (`--base-url`, for tests) stays unknown: --help does not
    list it, and naming it "a setting" told of a flag meant to stay out of sight."""
    from connector.daemon.settings import HIDDEN_FLAGS, known_flags, unknown_arguments

    end = leftover.index("--") if "--" in leftover else len(leftover)
    first = next((arg.partition("=")[0] for arg in leftover[:end] if arg.startswith("-") and arg != "-"), None)
    if first is None and leftover and (instead := _ELSEWHERE.get(leftover[0])):
        # `inspect sync.c1z grants`, as `baton grants -f sync.c1z`: a word of baton's commands, named (it is no key).
        more = len(leftover) - 1 - (1 if end < len(leftover) else 0)
        others = f", and {more} other argument(s) (not shown: one may be a key)" if more else ""
        return f"an argument after the file, {leftover[0]!r}: {instead}{others}"
    if first is not None and first in known_flags() - HIDDEN_FLAGS and first not in known:
        return (
            f"{first} is a setting of a sync or the service; inspect reads a file and takes none "
            "(its flags: baton-datadog inspect --help)"
        )
    return unknown_arguments(leftover, known)


class _InspectParser(argparse.ArgumentParser):
    """argparse's refusals of inspect's flags as one line (it printed its usage above them), exit 2."""

    def error(self, message: str) -> NoReturn:
        from connector.daemon.settings import parser_refusal

        print(f"baton-datadog: inspect: {parser_refusal(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _inspect_parser() -> argparse.ArgumentParser:
    from connector.daemon import inspect
    from connector.daemon.version import package_version

    # No abbreviations, as in pflag and the settings parser: `--fi=x` is a typo named, not --file read.
    parser = _InspectParser(
        prog="baton-datadog inspect", description="Show what a .c1z sync file holds.", allow_abbrev=False
    )
    parser.add_argument("-v", "--version", action="version", version=f"baton-datadog {package_version()}")
    inspect.add_arguments(parser)
    return parser


def _help(rest: list[str]) -> int:
    """`help [COMMAND]`, as cobra gives every baton-sdk connector: the program's help, or the command's."""
    from connector.daemon.settings import (
        build_parser,
        first_positional,
        flags_taking_values,
        known_flags,
        unknown_arguments,
        unknown_flags,
    )

    # A flag help does not know is named, as everywhere else (cobra's `help` refuses one too): `help -x` printed the
    # help and exit 0, the typo passed over. The settings' flags may stand here (`help --log-level debug inspect`),
    # as may a cluster of short switches (`-p`), each of its letters a flag (`-zq` printed the help); after `--`
    # nothing is a flag.
    end = rest.index("--") if "--" in rest else len(rest)
    known, takes_value = known_flags(), flags_taking_values()
    if any(unknown_flags(arg, known, takes_value) for arg in rest[:end]):
        # Only then inspect's (`help inspect --json`): its module loads the c1z reader, which `help` alone never needs.
        inspect_parser = _inspect_parser()
        known |= known_flags(inspect_parser)
        takes_value |= flags_taking_values(inspect_parser)
    unknown = next((index for index, arg in enumerate(rest[:end]) if unknown_flags(arg, known, takes_value)), None)
    if unknown is not None:
        # Named from the first unknown one on: `help --log-level debug -x` was "unknown flag --log-level; did you
        # mean --log-level?", the known flag before it named.
        at = first_positional(rest)
        others = [arg for index, arg in enumerate(rest) if index >= unknown and index != at]  # the topic is no stray
        print(f"baton-datadog: help: {unknown_arguments(others, known)}", file=sys.stderr)
        return EXIT_USAGE
    at = first_positional(rest)
    topic = rest[at] if at is not None else "help"
    if topic == "inspect":
        _inspect_parser().print_help()
    elif topic in ("capabilities", "config"):
        build_parser(topic).print_help()
    elif topic == "help":
        build_parser().print_help()
    elif topic == "completion":
        print(_COMPLETION_HELP)
    else:
        print(f"baton-datadog: help: {_not_a_command(topic, 'its topic')}", file=sys.stderr)
        return EXIT_USAGE
    return 0


_COMPLETION_HELP = """usage: baton-datadog completion SHELL

Print a completion script for SHELL (bash, zsh or fish): the commands, and each command's flags as --help
lists them.
  bash:  baton-datadog completion bash > /etc/bash_completion.d/baton-datadog
  zsh:   baton-datadog completion zsh > "${fpath[1]}/_baton-datadog"
  fish:  baton-datadog completion fish > ~/.config/fish/completions/baton-datadog.fish"""


def _completion(rest: list[str]) -> int:
    """`completion SHELL`, as cobra gives every baton-sdk connector."""
    from connector.daemon.completion import SHELLS, listed_flags, script, value_flags
    from connector.daemon.settings import build_parser

    end = rest.index("--") if "--" in rest else len(rest)
    # `--help` and `--version` work after every command (README), here too: beside the shell (`completion bash
    # --help`) they were refused as "give one shell", exit 2. The first one given wins, as argparse has it.
    asked = next((arg for arg in rest[:end] if arg in ("-h", "--help", "-v", "--version")), None)
    if asked in ("-h", "--help"):
        print(_COMPLETION_HELP)
        return 0
    if asked is not None:
        from connector.daemon.version import package_version

        print(f"baton-datadog {package_version()}")
        return 0
    if "--" in rest:  # the end of the flags (`completion -- bash`, `completion bash --`), as cobra takes it
        rest.remove("--")
    if len(rest) != 1 or rest[0] not in SHELLS:
        # The argument is named only when it is a shell's kind of word: it may be a key that lost its flag.
        given = f" not {rest[0]!r};" if len(rest) == 1 and _WORD.fullmatch(rest[0]) else ""
        print(f"baton-datadog: completion: give one shell:{given} one of {', '.join(SHELLS)}", file=sys.stderr)
        return EXIT_USAGE
    flags = listed_flags(build_parser())
    # The commands whose flags are not the program's: inspect's are its own, config adds --json.
    parsers = {
        "inspect": _inspect_parser(),
        **{command: build_parser(command) for command in ("capabilities", "config")},
    }
    own = {command: listed for command, parser in parsers.items() if (listed := listed_flags(parser)) != flags}
    help_flag = [("--help", "show this help"), ("-h", "show this help")]
    words = {"completion": SHELLS, "help": COMMANDS}
    takes = value_flags(build_parser())
    print(script(rest[0], COMMANDS, flags, {**own, **dict.fromkeys(words, help_flag)}, words, takes), end="")
    return 0


COMMANDS = ("inspect", "capabilities", "config", "help", "completion")
EXIT_USAGE = 2
MAX_ARGUMENTS = 5_000
"""More arguments than a command line needs (every flag with its value, twice over, is under 300; 2,500 repeated
`--sync-resources` still pass: 1,000 refused 501 of them), refused unparsed: argparse's time grows with the square of
the flags given (5,000 take under a CPU-second here, 20,000 took 12 and 100,000 minutes)."""
# What is quoted back when a positional argument is not a command: a mistyped command is a short word; anything
# else may be a value that lost its flag (a key pasted after `--api-key=`), so it is only counted, never shown.
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{0,19}")


def _command(args: list[str]) -> tuple[str | None, list[str]] | int:
    """The command and the other arguments, wherever the command stands after leading flags (`--config x.yaml
    config`, as baton users type it); or the exit code of a positional argument that is no command."""
    if args[:1] and args[0] in COMMANDS:
        return args[0], args[1:]  # the usual place: no settings parser needed (`inspect` stays light)
    from connector.daemon.settings import first_positional, known_flags, switch_value, unknown_arguments

    at = first_positional(args)
    if at is None:
        return None, args
    if args[at] in COMMANDS:
        # The `--` that ended the flags before the command ends with it: the command's own parser has no
        # positional argument it could stand before, and refused it as unrecognized. (argparse never takes `--`
        # for a flag's value, so this one is the separator.)
        before = args[: at - 1] if at and args[at - 1] == "--" else args[:at]
        return args[at], before + args[at + 1 :]
    flag_before = args[at - 1] if at else ""
    if (
        flag_before.startswith("-")
        and flag_before != "--"
        and "=" not in flag_before
        and flag_before not in known_flags()
    ):
        # `--otel-collector-endpoint host`: the unknown flag is the mistake, and what follows it is its value.
        print(f"baton-datadog: {unknown_arguments(args[at - 1 :])}", file=sys.stderr)
        return EXIT_USAGE
    if (mistake := switch_value(flag_before, args[at])) is not None:
        print(f"baton-datadog: {mistake}", file=sys.stderr)
        return EXIT_USAGE
    print(f"baton-datadog: {_not_a_command(args[at], f'argument {at + 1}')}", file=sys.stderr)
    return EXIT_USAGE


# Commands a baton user knows from elsewhere, and what does their work here: the `baton` tool reads a c1z with
# `baton resources -f sync.c1z` (and grants, entitlements, stats, syncs, resource-types); other CLIs print their
# version with a `version` command. Each was "unknown command" and the list of commands, none of which said which.
_INSPECT = "the baton tool's command; here: baton-datadog inspect"
_ELSEWHERE = {
    "version": "the version is --version (or -v)",
    "resources": f"{_INSPECT} --resources TYPE",
    "entitlements": f"{_INSPECT} --entitlements",
    "grants": f"{_INSPECT} --grants",
    "stats": f"{_INSPECT} (rows per resource type)",
    "syncs": f"{_INSPECT} (its sync runs)",
    "resource-types": f"{_INSPECT} (rows per resource type)",
}


def _not_a_command(arg: str, where: str) -> str:
    """The line for `arg` (at `where`: `argument 3`), which is no command; quoted only when it looks like a word."""
    from connector.daemon.settings import dash_lookalike

    if lookalike := dash_lookalike(arg):
        return f"{where} {lookalike}; see --help for the flags"
    if _WORD.fullmatch(arg):
        close = difflib.get_close_matches(arg, COMMANDS, n=1, cutoff=0.6)
        instead = _ELSEWHERE.get(arg.lower()) or (f"did you mean {close[0]!r}?" if close else None)
        what = f"unknown command {arg!r}" + (f"; {instead}" if instead else "")
    else:
        what = f"{where} is neither a flag, a flag's value nor a command (not shown: it may be a key)"
    return f"{what}; the commands are {', '.join(COMMANDS)}, or none to sync or serve (see --help)"


def _capabilities(args: list[str]) -> int:
    """The ConnectorMetadata Hello sends (with the capabilities the given settings enable), as JSON."""
    from google.protobuf import json_format

    from connector.daemon.main import fail_settings
    from connector.daemon.oneshot import datadog_options
    from connector.daemon.settings import SettingsError, load
    from connector.datadog.connector import DatadogConnector

    try:
        settings = load(args, command="capabilities")
    except SettingsError as exc:
        return fail_settings(exc)
    # Metadata is built without a Datadog request, so no key is needed: the connector gets no client.
    connector = DatadogConnector(None, datadog_options(settings))  # type: ignore[arg-type]
    metadata = json_format.MessageToDict(connector.metadata(), preserving_proto_field_name=False)
    print(json.dumps(metadata, indent=2, sort_keys=True))
    return 0


def _config(args: list[str]) -> int:
    """Every setting's effective value, where it came from (flag, env, file, default); secrets redacted. Then what the
    run would refuse its start with (`startchecks.refusals`): each as `error: <the run's line>`, exit 2 as the run's."""
    from connector.baton.printable import printable, surrogates_escaped
    from connector.daemon.main import fail_settings, shown_problems, start_warnings
    from connector.daemon.settings import SettingsError, env, load_effective, named, redacted

    as_json = "--json" in args
    try:
        effective = load_effective(args, command="config")
    except SettingsError as exc:
        return fail_settings(exc)
    # What the run decides for itself where nothing was given, as it decides it (the source stays `default`): the
    # log format ("" while the run logged JSON), the host id ("" while Hello sent the hostname), the working files'
    # directory (null while they went to the system's; null, with why, when the system has none this process can
    # write: `tempfile.gettempdir()` unguarded here was "unexpected error: FileNotFoundError"; it is the run's own
    # lookup, whose probe files it removes at once, so the directory shown is the one the run would use).
    from connector.baton.c1.hostinfo import default_host_id
    from connector.baton.c1z.tempdir import NO_SYSTEM_TEMP_DIR, system_temp_dir

    settings = effective.settings
    warnings = list(effective.warnings)
    temp_dir = settings.c1z_temp_dir or system_temp_dir()
    # Shown as every other value is (`redacted`): set here after it, a secret given as the temp dir was printed.
    values = redacted(
        settings,
        {
            "log_format": settings.resolved_log_format(),
            "host_id": settings.host_id or default_host_id(os.environ),
            "c1z_temp_dir": None if temp_dir is None else str(temp_dir),
        },
    )
    # What the run refuses at start, found by the run's own checks for the mode these settings select
    # (`startchecks`): the table alone said "fine" to a `--file -` or a `~/ca.pem` the run refused, exit 2. Only
    # checks that look: none makes a file or a directory, or connects. Each line as the run's closing line is
    # (redacted, bounded, inert), the secrets these settings hold blanked out: none is registered with the redactor here.
    from connector.daemon import logging as logs
    from connector.daemon.startchecks import refusals

    secrets = [
        secret.get_secret_value()
        for secret in (settings.api_key, settings.app_key, settings.client_secret)
        if secret is not None and secret.get_secret_value()
    ]
    found = refusals(settings, effective.sources)
    # As many as the run shows (`shown_problems`): 99,000 unknown resource types were 99,000 lines (15 MB).
    errors = [logs.bounded(logs.redact(line, also=secrets)) for line in shown_problems(found.refused)]
    # What is missing, and what the process decides (its limits, the system's temp directory): a run refuses them too,
    # but `config` may be run before every setting is given, or in another shell than the deployment.
    warnings += [
        logs.bounded(logs.redact(line, also=secrets)) for line in shown_problems(found.warned) if line not in warnings
    ]
    if temp_dir is None and (no_temp_dir := f"{named('c1z_temp_dir')}: {NO_SYSTEM_TEMP_DIR}") not in warnings:
        warnings.append(no_temp_dir)  # an action makes no c1z: not among what the checks found
    # And what the run warns of at start, as it says it (`main.start_warnings`): a switch it ignores, grpc's trace let
    # through, a umask it changes, a TMPDIR it passes over.
    warnings += [line for line in start_warnings(settings) if line not in warnings]
    code = EXIT_USAGE if errors else 0  # the run's exit code for each of them
    rows = {
        name: {"value": value, "source": effective.sources[name], "env": env(name)} for name, value in values.items()
    }
    if as_json:
        # A warning names what the environment gave (an unknown variable's name may hold any bytes): as the values.
        shown_warnings = [surrogates_escaped(warning) for warning in warnings]
        shown_errors = [surrogates_escaped(error) for error in errors]
        print(json.dumps({"settings": rows, "warnings": shown_warnings, "errors": shown_errors}, indent=2, default=str))
        return code
    width = max(len(name) for name in rows)
    shown = {name: json.dumps(row["value"], default=str) for name, row in rows.items()}
    # As wide as the widest value up to a cap (a long one widens its own line only): at a fixed 30, a temp dir's or a
    # host's name pushed its source and variable out of their columns.
    value_width = max(30, min(max(len(text) for text in shown.values()), 64))
    for name, row in rows.items():
        print(f"{name.replace('_', '-'):<{width}}  {shown[name]:<{value_width}}  {row['source']:<7}  {row['env']}")
    for warning in warnings:
        # Inert, as every closing line is: a warning names what the environment or the command line gave (an
        # unknown variable's name, the --config path), which may hold any character, a terminal's escapes too.
        print(f"warning: {printable(warning)}", file=sys.stderr)
    for error in errors:
        print(f"error: {printable(error)}", file=sys.stderr)
    return code


def _debugging(args: list[str]) -> bool:
    """Whether the run's log level is debug, with the settings' precedence (flag > BATON_LOG_LEVEL > file): read
    by hand first, as the settings may be what failed. The last flag wins, as argparse has it; `--log-level=info`
    used to count as no flag, so a BATON_LOG_LEVEL=debug beside it printed the traceback."""
    flagged: str | None = None
    for at, arg in enumerate(args):
        if arg == "--":  # what follows is no flag
            break
        name, equals, value = arg.partition("=")
        if name == "--log-level":
            flagged = value if equals else "".join(args[at + 1 : at + 2])
    given = flagged if flagged is not None else os.environ.get("BATON_LOG_LEVEL", "")
    if given.strip():
        return given.strip().lower() == "debug"  # case and whitespace ignored, as the settings read a log level
    # The log level may also come from the YAML file (`--config` / BATON_CONFIG_PATH), as every setting may:
    # read as the run read it. Settings that do not load (or a command's own flags) mean no traceback.
    from connector.daemon.settings import load

    try:
        return load(args).log_level == "debug"
    except (Exception, SystemExit):
        return False


def _unexpected(exc: Exception, args: list[str]) -> int:
    from connector.baton.printable import printable
    from connector.daemon import logging as logs

    # The secrets the log redactor knows, and those the command line, the environment and the --config file give: the
    # settings may not have loaded (a fault reading them), and then the redactor knew none; a message quoting argv held
    # the key. Blanked out in one pass (`logs.redact`'s `also`).
    try:
        from connector.daemon.settings import given_secrets

        given = given_secrets(args, os.environ)
    except Exception:  # the fault may be the settings module's own: the line is still written
        given = []

    def redact(text: str) -> str:  # and cut: an error's text may quote a peer's value of any size
        return logs.bounded(logs.redact(text, also=given))

    detail = redact(f"{type(exc).__name__}: {exc}")
    if _debugging(args):
        print(redact("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
        hint = ""
    else:
        hint = " (run with --log-level debug for the traceback)"
    print(f"baton-datadog: unexpected error: {printable(detail)}{hint}", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
