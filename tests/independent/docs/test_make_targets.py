"""Make targets: every `make TARGET` an operator document names is a target of the Makefile, and every target of the
Makefile is named in README.md or docs/deployment.md, where a reader of the checkout looks for what to type
(`make clean`, which deletes `.venv` and `build/`, the demo's kept log and c1z included, was named nowhere)."""

from __future__ import annotations

import re

from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, text

# Words after "make" in prose that are no target ("make a ...", "make it ...").
_PROSE = {"a", "it", "one", "the", "them", "sure"}


def _targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.M))


def test_every_make_target_named_exists() -> None:
    targets = _targets()
    named = {
        (doc, word)
        for doc in OPERATOR_DOCS
        for word in re.findall(r"\bmake ([a-z][a-z-]*)", text(doc))
        if word not in _PROSE
    }
    assert {(doc, word) for doc, word in named if word not in targets} == set()


def test_every_make_target_is_documented() -> None:
    documented = set(re.findall(r"`make ([a-z][a-z-]*)", text("README.md") + text("docs/deployment.md")))
    assert _targets() - documented == set()
