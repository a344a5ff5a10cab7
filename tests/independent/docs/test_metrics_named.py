"""Metrics: every `baton_datadog_*` series any operator document names (the runbook's queries, the service-mode and
README prose, not only docs/deployment.md's table) is one the daemon exports, and every label a document's selector
gives it (`{outcome="failure"}`, `{status="429"}`) is one of its labels."""

from __future__ import annotations

import re

from prometheus_client.metrics import MetricWrapperBase

from connector.daemon.metrics import daemon_metrics
from tests.independent.docs.operator_docs import OPERATOR_DOCS, text

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "namespace", "instance", "pod"}


def _exported() -> dict[str, set[str]]:
    """Each exported series name (a histogram's and a counter's sample names too) with its label names."""
    metrics, _ = daemon_metrics()
    names: dict[str, set[str]] = {}
    for collector in metrics.registry._collector_to_names:  # the registry's own view; no public one
        if isinstance(collector, MetricWrapperBase):
            for name in metrics.registry._collector_to_names[collector]:
                names[name] = set(collector._labelnames)
    return names


def test_every_series_a_document_names_is_exported() -> None:
    exported = _exported()
    named = {
        (doc, name)
        for doc in OPERATOR_DOCS
        for name in re.findall(r"\bbaton_datadog_[a-z0-9_]*[a-z0-9]", text(doc))
        if name != "baton_datadog_api"  # "the `baton_datadog_api_*` series"
    }
    assert len(named) > 20, "the pattern no longer reads the documents"
    assert {(doc, name) for doc, name in named if name not in exported} == set()


def test_every_label_a_documents_selector_gives_is_the_series_label() -> None:
    exported = _exported()
    wrong = []
    for doc in OPERATOR_DOCS:
        for name, selector in re.findall(r"\b(baton_datadog_[a-z0-9_]+)\{([^}]*)\}", text(doc)):
            labels = set(re.findall(r"([a-z_]+)\s*(?:[!=]~?|,|$)", selector))
            if unknown := labels - exported.get(name, set()) - TARGET_LABELS:
                wrong.append((doc, name, sorted(unknown)))
    assert wrong == []
