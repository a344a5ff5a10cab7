"""A log reader that stops reading: stderr a pipe nobody drains (a stuck sidecar, a paused `kubectl logs`, a container
runtime under pressure). Log lines are written by a thread of their own through a bounded queue, so a full pipe drops
lines (counted, and said once writing resumes) and never blocks the event loop: /healthz answers, tasks are reported,
SIGTERM ends the daemon, a one-shot sync writes its file and exits with its code. The closing lines (an error's, the
run's last words) are never dropped for a full queue, and every written line is bounded as a whole.

- `test_stalled_process.py`: the daemon and a one-shot sync as processes whose stderr pipe fills and stays full.
- `test_writer.py`: the writer in process, on a pipe the test fills and then drains: what is dropped, what is kept,
  in which order, and the bounded drain at exit.
- `test_line_bound.py`: a line of many bounded values is bounded as written, still one JSON object.
"""
