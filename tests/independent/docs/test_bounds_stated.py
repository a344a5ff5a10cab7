"""Bounds: each limit an operator document states as a number (attempts, waits, sizes, counts, timeouts) is the number
the code holds in the constant that owns it, read from that constant, so a bound changed in the code leaves no
document stating the old one. The names test (test_constants_named.py) checks that a quoted constant exists; this one
checks the numbers said in prose, which name no constant."""

from __future__ import annotations

import re

import pytest

from connector.baton.c1 import client as c1_client
from connector.baton.c1 import token
from connector.baton.c1z import envelope, rows, schema, store
from connector.baton.lookup import MAX_LOOKUPS
from connector.baton.retry import RetryPolicy as BaseRetryPolicy
from connector.baton.runtime import http, scheduler, service
from connector.baton.tasks import debuglog
from connector.baton.tasks.processor import _UNREPORTED_REMEMBERED, FINISH_RETRY
from connector.daemon import logging as logs
from connector.daemon import proclimits
from connector.daemon.main import MAX_PROBLEMS_SHOWN
from connector.datadog import client, idrules, paging, transport
from connector.datadog.retry import RetryPolicy
from tests.independent.docs.operator_docs import unwrapped

MIB = 1 << 20
DATADOG = RetryPolicy()

# (document, the sentence with the number as its one group, the number the code holds)
STATED: list[tuple[str, str, float]] = [
    ("README.md", r"each connect \(at most (\d+) s\)", transport.DEFAULT_CONNECT_TIMEOUT),
    ("README.md", r"`BATON_HTTP_TIMEOUT_SECONDS` \((\d+) s\)", transport.DEFAULT_TIMEOUT),
    ("README.md", r"A call makes at most (\d+) attempts", DATADOG.max_attempts),
    ("README.md", r"and (\d+) more after 429s", DATADOG.max_rate_limit_retries),
    ("README.md", r"each waiting up to (\d+) min for the window", DATADOG.max_hinted_delay / 60),
    ("README.md", r"implies \+ 1 \(([\d,]+) without one\)", paging.MAX_PAGES),
    ("README.md", r"sends `page\[size\]=(\d+)`", paging.PAGE_SIZE),
    ("README.md", r"an open-file limit under (\d+) in service mode", proclimits.MIN_OPEN_FILES),
    ("README.md", r"or (\d+) in a one-shot run", proclimits.MIN_ONE_SHOT_OPEN_FILES),
    ("README.md", r"`ulimit -v`, under (\d+) GiB", proclimits.MIN_SERVICE_ADDRESS_SPACE / 1024 / MIB),
    ("README.md", r"unknown: the first (\d+) and the first of each", MAX_PROBLEMS_SHOWN),
    ("docs/service-mode.md", r"up to `max_attempts` \((\d+)\) requests in all", DATADOG.max_attempts),
    (
        "docs/service-mode.md",
        r"up to (\d+) waits, each the hint but at least (?:\d+) s",
        DATADOG.max_rate_limit_retries,
    ),
    ("docs/service-mode.md", r"body larger than (\d+) MiB", transport.DEFAULT_MAX_RESPONSE_BYTES / MIB),
    ("docs/service-mode.md", r"body holding more than ([\d,]+) of the bytes", transport.MAX_RESPONSE_VALUES),
    ("docs/service-mode.md", r"link to more than ([\d,]+) objects", client.MAX_LINKS_PER_ANSWER),
    ("docs/service-mode.md", r"UnexpectedResponse` after ([\d,]+) pages", paging.MAX_PAGES),
    ("docs/service-mode.md", r"or longer than (\d+) characters", idrules._MAX_ID_CHARS),
    ("docs/service-mode.md", r"\(over ([\d,]+) characters\)", transport._MAX_URL_CHARS),
    ("docs/service-mode.md", r"within (\d+) s \(`STARTUP_CHECK_SECONDS`", service.STARTUP_CHECK_SECONDS),
    ("docs/service-mode.md", r"budget of \*\*(\d+) MiB\*\* of tasks", scheduler.TASK_BYTES_BUDGET / MIB),
    ("docs/service-mode.md", r"threads of their own, at most (\d+)", MAX_LOOKUPS),
    ("docs/service-mode.md", r"must arrive whole within (\d+) s", http.REQUEST_TIMEOUT),
    ("docs/service-mode.md", r"not take within (\d+) s is dropped", http.WRITE_TIMEOUT),
    ("docs/service-mode.md", r"at most (\d+) connections are open", http.MAX_CONNECTIONS),
    ("docs/service-mode.md", r"A request head is at most (\d+) KiB", http._MAX_REQUEST_HEAD / 1024),
    (
        "docs/service-mode.md",
        r"polls \(exponential with full jitter, capped at (\d+) s\)",
        scheduler.POLL_RETRY.max_delay,
    ),
    ("docs/service-mode.md", r"FinishTask retries \(full jitter, capped at (\d+) s\)", FINISH_RETRY.max_delay),
    ("docs/service-mode.md", r"less than the (\d+) s refresh margin", token.DEFAULT_EXPIRY_DELTA),
    ("docs/service-mode.md", r"a queue of (\d+) MB", logs.QUEUE_CHARS / MIB),
    ("docs/service-mode.md", r"gets (\d+) s \(`DRAIN_SECONDS`\)", logs.DRAIN_SECONDS),
    ("docs/service-mode.md", r"(\d+) KiB \(`MAX_LINE_CHARS`\)", logs.MAX_LINE_CHARS / 1024),
    ("docs/service-mode.md", r"up to (\d+) MiB a task and", debuglog.MAX_DEBUG_LOG_BYTES / MIB),
    (
        "docs/service-mode.md",
        r"and (\d+) MiB for all debugged tasks together",
        debuglog.MAX_DEBUG_LOGS_TOTAL_BYTES / MIB,
    ),
    ("docs/deployment.md", r"over the (\d+) MiB gRPC message limit", c1_client.MAX_RECEIVE_MESSAGE_BYTES / MIB),
    ("docs/deployment.md", r"`BATON_TASK_CONCURRENCY` by up to (\d+)\)", scheduler.RETRYING_REPORTS_MAX),
    ("docs/runbook.md", r"fewer than ([\d,]+) others were given up", _UNREPORTED_REMEMBERED),
    ("docs/runbook.md", r"is larger than (\d+) bytes", token.MAX_TOKEN_RESPONSE_BYTES),
    ("docs/runbook.md", r"waits at least that long \(up to (\d+) minutes\)", BaseRetryPolicy().max_hinted_delay / 60),
    ("docs/c1z.md", r"Pages share one transaction for ([\d.]+) s", store.COMMIT_INTERVAL),
    ("docs/c1z.md", r"returns once the page is queued \(at most (\d+) wait\)", store.MAX_PENDING_WRITES),
    ("docs/c1z.md", r"live pages take at most (\d+) MiB", store.COMPACT_MAX_BYTES / MIB),
    ("docs/c1z.md", r"when at least 1/(\d+) of it is free pages", 1 / store.COMPACT_FREE_SHARE),
    ("docs/c1z.md", r"younger than (\d+) days", store.RESUME_MAX_AGE.days),
    ("docs/c1z.md", r"a window above Go's (\d+) MiB", envelope.MAX_WINDOW / MIB),
    ("docs/c1z.md", r"caps the decompressed size at (\d+)x the file's size", envelope.MAX_RATIO),
    ("docs/c1z.md", r"at least (\d+) MiB and at most Go's", envelope.MIN_CAP / MIB),
    ("docs/c1z.md", r"at most Go's (\d+) GiB", envelope.MAX_DECOMPRESSED / 1024 / MIB),
    ("docs/c1z.md", r"a schema of more than ([\d,]+) tables", schema.MAX_SCHEMA_OBJECTS),
    ("docs/c1z.md", r"a blob of at most (\d+) MiB is refused", rows.MAX_OBJECT_BYTES / MIB),
    ("docs/c1z.md", r"at most ([\d,]+) runs \(Go keeps two\)", rows.MAX_SYNC_RUNS),
    ("docs/c1z.md", r"types of at most ([\d,]+) characters", rows.MAX_SYNC_RUN_FIELD),
    ("docs/c1z.md", r"and (\d+) MiB of state tokens", rows.MAX_SYNC_RUNS_TEXT / MIB),
    ("docs/c1z.md", r"at most ([\d,]+) and 1 MiB of objects and keys", rows.MAX_RESOURCE_TYPES),
]


@pytest.mark.parametrize(("doc", "sentence", "holds"), STATED, ids=[f"{d}:{s[:40]}" for d, s, _ in STATED])
def test_a_bound_a_document_states_is_the_codes(doc: str, sentence: str, holds: float) -> None:
    said = re.findall(sentence, unwrapped(doc))
    assert said, f"{doc} no longer says {sentence!r}: reword the row"
    assert {float(number.replace(",", "")) for number in said} == {float(holds)}, (doc, sentence)
