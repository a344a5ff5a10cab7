"""The process environment a pod, a cron host or a hardened shell gives the connector, attacked as a process: the
umask, the resource limits (`ulimit -n`, `ulimit -v`), standard streams closed or whose reader went away, and the
environment's own oddities (`TZ`, the locale, a deleted working directory, `BATON_*` names in another case). Earlier
rounds covered a stalled log reader (`logstall/`), a full disk (`exhaustion/`), no temporary directory (`firsthour/`)
and the chart's volumes (`deploy3/`).

- `test_umask.py`: a umask taking the owner's own bits away (0777, 0177) made the sync's working directory mode 000
  (left beside `--file`) and failed the run ("Permission denied", "SQLITE_CANTOPEN"); the owner's bits are given
  back, said in a warning, and under any umask (0000 too) the c1z is the owner's only.
- `test_limits.py`: an open-file limit under what a run needs failed a sync as "SQLITE_CANTOPEN", a start as
  "METADATA: Too many open files", or aborted the daemon inside gRPC; an address-space limit under the daemon's
  reservation killed it with SIGABRT without a word. The soft open-file limit is raised to the hard one (as Go
  programs do), and a limit too low even so is refused at start in one line naming it (exit 2).
- `test_signals.py`: SIGTERM and SIGINT blocked by the parent (a mask survives exec) kept the daemon running through
  every SIGTERM; they are unblocked at start. Ignored ones were and are replaced by its handlers.
- `test_duplicates.py`: one setting given in two places with different values ran on the first without a word; a
  warning names the setting and the places, never the values.
- `test_temp_dir.py`: a TMPDIR this process cannot write was passed over for /tmp without a word; a warning names it
  and where the working files go.
- `test_locale.py`: under a locale that is not UTF-8 (`LC_ALL=C PYTHONUTF8=0`), text settings typed in UTF-8 were
  refused as "not valid UTF-8 text"; they are read as UTF-8, as Go reads them.
- `test_cwd.py`: a relative `--file` in a working directory removed under the run was refused as "the directory . is
  not writable (No such file or directory)"; it says the directory was removed.
- `test_streams.py`: the daemon with its standard streams closed at exec, or its log pipe's reader gone: it serves
  and reports; a one-shot sync whose log reader went away still writes its file and exits with its code. A one-shot
  sync or change whose standard output is closed or full (`>&-` in a cron line, `> /dev/full`) exits 1 as before,
  but its line said only "cannot write the output", and a written file or an account created was taken for undone
  and run again; it now says what was done, and an action's result it could not print.
"""
