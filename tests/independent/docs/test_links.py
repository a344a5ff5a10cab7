"""Links: every `[text](file#anchor)` and `[text](#anchor)` of an operator document leads to a heading of that
file, as GitHub makes its anchor (a heading reworded leaves the link opening the top of the page, or another file's)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, text


@functools.cache
def _anchors(document: Path) -> frozenset[str]:
    """GitHub's anchors: the heading's text in lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", document.read_text(), flags=re.M)
    return frozenset(re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings)


def test_every_anchor_a_document_links_to_is_a_heading() -> None:
    links = [
        (doc, target, anchor)
        for doc in OPERATOR_DOCS
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text(doc))
    ]
    assert len(links) >= 5, "the pattern no longer reads the documents"
    broken = [
        (doc, f"{target}#{anchor}")
        for doc, target, anchor in links
        if anchor not in _anchors((REPO / doc).parent / target if target else REPO / doc)
    ]
    assert broken == []
