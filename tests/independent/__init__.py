"""An independent suite for issue 11 ("a robust core"), written from the issue's text and the boundaries the daemon has,
not from the project's own tests: each hostile case a peer, a file or the process can produce, with the result the
issue asks for (a clear error, no traceback, no hang, no lost report, no secret)."""
