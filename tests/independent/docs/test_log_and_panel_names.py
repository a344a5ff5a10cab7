"""Names an operator searches for: every dashboard panel the runbook quotes is a panel of the chart's dashboard,
titled exactly so; every log event a document quotes as the start of a longer one is quoted whole or with `…` (the
runbook quoted `invalid task from ConductorOne`, an event that is `invalid task from ConductorOne; not executed,
cannot be reported`, and a log query for the quoted text finds nothing); and the lifecycle lines the documents list
are the lines the code marks so."""

from __future__ import annotations

import functools
import json
import re

from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, backticked, unwrapped

# `log.info("event", ...)`, `(log.error if bad else log.info)("event", ...)`, the event's literal possibly split in
# implicitly joined parts over lines; read as text, as parsing every module took a second and a half.
_CALL = re.compile(
    r"(?:\.(?:debug|info|warning|warn|error|exception|critical)\)?|\blevel)\(\s*((?:\"(?:[^\"\\\n]|\\.)*\"\s*)+)"
)


@functools.cache
def _logged() -> dict[str, bool]:
    """Every log event the connector names as a constant, and whether it is a lifecycle line (`**LIFECYCLE`)."""
    events: dict[str, bool] = {}
    for path in (REPO / "connector").rglob("*.py"):
        source = path.read_text()
        for m in _CALL.finditer(source):
            event = "".join(re.findall(r"\"((?:[^\"\\\n]|\\.)*)\"", m.group(1)))
            call_end = source.find(")\n", m.end())
            lifecycle = "**LIFECYCLE" in source[m.end() : call_end if call_end > 0 else None]
            events[event] = events.get(event, False) or lifecycle
    return events


def test_a_quoted_event_is_the_event_whole() -> None:
    events = _logged()
    assert "task not reported to ConductorOne" in events, "the event reader no longer finds the connector's events"
    cut = {
        (doc, span, event)
        for doc in OPERATOR_DOCS
        for span in backticked(doc)
        if len(span) > 12 and span not in events
        for event in events
        if event.startswith(span) and event[len(span)] in ";:,( "
    }
    assert cut == set()


def test_the_lifecycle_lines_listed_are_the_lifecycle_lines() -> None:
    lifecycle = {event for event, marked in _logged().items() if marked}
    assert "stopped" in lifecycle
    for doc in ("docs/service-mode.md", "docs/deployment.md"):
        body = unwrapped(doc)
        listed = re.search(r"lifecycle lines?(?: marked `[^`]*`)? \(([^)]*(?:\([^)]*\)[^)]*)*)\)", body)
        assert listed, f"{doc} no longer lists the lifecycle lines"
        # The names stand before any `:` that goes on about them.
        names = {n.strip(" `") for n in re.split(r",|\band\b", listed.group(1).split(":")[0]) if n.strip()}
        assert names == lifecycle, doc


def test_every_dashboard_panel_the_runbook_quotes_exists() -> None:
    dashboard = json.loads((REPO / "charts/baton-datadog/dashboards/baton-datadog.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    runbook = unwrapped("docs/runbook.md")
    quoted = [
        title
        for run in re.findall(r"panels? ((?:\"[^\"]+\"(?:,? and |, )?)+)", runbook)
        for title in re.findall(r"\"([^\"]+)\"", run)
    ]
    assert len(quoted) >= 5, "the pattern no longer reads the runbook"
    assert [title for title in quoted if title not in titles] == []
    # A title cut short ("Full sync duration" for "Full sync duration (mean over 6h)") is no title to search for.
    cut = [q for q in re.findall(r"\"([^\"]+)\"", runbook) if q not in titles and any(t.startswith(q) for t in titles)]
    assert cut == []
