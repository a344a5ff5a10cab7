"""Error paths no other test reached, found by measuring the fast suite's line and branch coverage of `connector/`
(coverage.py run from outside the project), each driven here with the odd input that takes it and its outcome
checked: a clear error naming what was wrong, nothing lost, no secret.

- `test_task_handler_edges.py`: a create_account task without its account info; the bound on the actions whose
  status an `action_status` task may ask for (`Handlers._remember`).
- `test_go_words.py`: Go's quoting (`gostrings.go_quote`) of a JWK `x5u` Go's `url.Parse` refuses: a quote, a
  backslash, characters Go prints escaped; the control characters Go has a short escape for were `\\x0a` where Go
  says `\\n` (fixed).
- `test_go_url_words.py`: Go's `net/url` checks an `x5u`'s bytes: a bad %-escape is named by its first 3 bytes,
  which may end inside a character (`"%\\xe2\\x82"`, was `"%€"`: `go_quote` now quotes bytes as `strconv.Quote`),
  and an IPv6 zone's escaped byte of 0x80 or more is refused (was taken) (fixed).
- `test_retry_metric.py`: a retry the Datadog transport schedules, counted on `baton_datadog_api_retries_total`.
- `test_removal_answer_shape.py`: a team removal answered with the membership with a member of the wrong type: named
  by its path in the answer (`data.attributes.role`, was `role`, and a number there was "got nothing"; fixed).
- `test_transport_repr.py`: the Datadog transport's repr names its site, never a key.
- `test_c1_host_port.py`: a bracketed ConductorOne host's mistakes (unterminated, empty, no port after it).
- `test_proxy_refusal.py`: a proxy's refusal text with no status, or a status with no standard phrase.
"""
