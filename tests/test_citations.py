"""A section of a document cited in the code ("docs/spec/service-mode.md §3.4") is one a reader can open: the
document is in the repository and has a heading with that number. A citation left behind when a document was
renumbered sends the next reader to a section that says something else, or to none."""

from __future__ import annotations

import re
from pathlib import Path

import connector

REPO = Path(connector.__file__).parent.parent
CITATION = re.compile(r"([\w./-]*[\w-]\.md)\s*§\s*([0-9A-Za-z]+(?:\.[0-9]+)*)")
HEADING = re.compile(r"#+\s+(?:Appendix\s+)?([0-9A-Za-z]+(?:\.[0-9]+)*)[.\s]")
CITING = (".py", ".md", ".yaml", ".yml", ".toml", ".tpl", ".txt", "Makefile")
FOLDERS = ("connector", "tests", "benchmarks", "scripts", "docs", "deploy", "charts")


def _tracked() -> list[str]:
    """The project's own files (the generated protobuf modules cite nothing of ours)."""
    found = [p for folder in FOLDERS for p in (REPO / folder).rglob("*") if p.is_file() and "pb" not in p.parts]
    return sorted(str(p.relative_to(REPO)) for p in [*found, *REPO.glob("*.md"), REPO / "Makefile"])


def _sections(document: Path) -> set[str]:
    return {m.group(1) for line in document.read_text().splitlines() if (m := HEADING.match(line))}


def _citations(files: list[str]) -> list[tuple[str, int, str, str]]:
    found = []
    for name in files:
        if not name.endswith(CITING):
            continue
        text = (REPO / name).read_text(errors="replace")
        for m in CITATION.finditer(text):
            found.append((name, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)))
    return found


def _unresolved(files: list[str]) -> list[str]:
    documents = [name for name in files if name.endswith(".md")]
    wrong = []
    for name, line, cited, section in _citations(files):
        # A bare name ("credentials.md §4.5") may be any document of that name; a path must be that document.
        candidates = [d for d in documents if d == cited or ("/" not in cited and d.rsplit("/", 1)[-1] == cited)]
        if not candidates:
            wrong.append(f"{name}:{line}: {cited} is not in the repository")
        elif not any(section in _sections(REPO / d) for d in candidates):
            wrong.append(f"{name}:{line}: {cited} has no section {section}")
    return wrong


def test_the_check_reads_citations_and_headings() -> None:
    assert ("docs/spec/service-mode.md", "3.4") in {(c, s) for _, _, c, s in _citations(_tracked())}
    assert {"0.2", "3.4", "6.3"} <= _sections(REPO / "docs/spec/service-mode.md")


def test_every_cited_section_exists() -> None:
    assert _unresolved(_tracked()) == []
