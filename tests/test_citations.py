"""A section of a document cited in the code or the docs ("docs/spec/service-mode.md §3.4", "§3.4 of
docs/spec/service-mode.md", or by its title: docs/benchmarks.md, "c1z store") is one a reader can open: the document
is in the repository and has a heading with that number or title. A citation left behind when a document was
renumbered or a heading reworded sends the next reader to a section that says something else, or to none. So does a
path to a file or folder (a module, a fixture, a test) that a rename or a deletion left behind."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import connector

REPO = Path(connector.__file__).parent.parent
_NUMBER = r"([0-9A-Za-z]+(?:\.[0-9]+)*)"
_DOCUMENT = r"(?<![\w./-])([\w./-]*[\w-]\.md)"
BY_NUMBER = (
    re.compile(_DOCUMENT + r"\s*§\s*" + _NUMBER),
    re.compile(r"§\s*" + _NUMBER + r" of " + _DOCUMENT),
)
# A title cited after the document's name, behind a comma or in parentheses (several: in a row); it may break
# across a comment's lines.
BY_TITLE = re.compile(_DOCUMENT + r"(?:,\s*|\s*\()((?:\"[^\"]{3,100}\"(?:,\s*|\s+and\s+)?)+)")
HEADING = re.compile(r"#+\s+(?:Appendix\s+)?([0-9A-Za-z]+(?:\.[0-9]+)*)[.\s]")
# A paragraph's bold lead-in names a part of a section as a heading would (`**Replicas.** ...`).
LABEL = re.compile(r"^(?:#+\s+|\*\*)(.+?)(?:\*\*|$)")
CITING = (".py", ".md", ".yaml", ".yml", ".toml", ".tpl", ".txt", "Makefile")
FOLDERS = ("connector", "tests", "benchmarks", "scripts", "docs", "deploy", "charts")


def _tracked() -> list[str]:
    """The project's own files (the generated protobuf modules and the recorded fixtures cite nothing of ours)."""
    found = [
        p
        for folder in FOLDERS
        for p in (REPO / folder).rglob("*")
        if p.is_file() and p.name.endswith(CITING) and not {"pb", "fixtures"} & set(p.parts)
    ]
    return sorted(str(p.relative_to(REPO)) for p in [*found, *REPO.glob("*.md"), REPO / "Makefile"])


@functools.cache
def _sections(document: Path) -> set[str]:
    return {m.group(1) for line in document.read_text().splitlines() if (m := HEADING.match(line))}


@functools.cache
def _titles(document: Path) -> list[str]:
    return [m.group(1).lower() for line in document.read_text().splitlines() if (m := LABEL.match(line))]


def _folded(text: str) -> str:
    """A comment's text as one line (its `#` markers and line breaks gone), where a cited title may stand whole."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def _citations(files: list[str]) -> list[tuple[str, int, str, str]]:
    """(file, line, document, section number or quoted title) for each citation."""
    found = []
    for name in files:
        if not name.endswith(CITING):
            continue
        text = (REPO / name).read_text(errors="replace")
        if ".md" not in text:
            continue
        for number_first, pattern in enumerate(BY_NUMBER):
            for m in pattern.finditer(text):
                cited, section = (m.group(2), m.group(1)) if number_first else (m.group(1), m.group(2))
                found.append((name, text.count("\n", 0, m.start()) + 1, cited, section))
        folded = _folded(text)
        for m in BY_TITLE.finditer(folded):
            line = text.count("\n", 0, text.find(m.group(1))) + 1
            found += [(name, line, m.group(1), f'"{title}"') for title in re.findall(r"\"([^\"]+)\"", m.group(2))]
    return found


def _unresolved(files: list[str]) -> list[str]:
    documents = [name for name in files if name.endswith(".md")]
    wrong = []
    for name, line, cited, section in _citations(files):
        # A bare name ("credentials.md §4.5") may be any document of that name; a path must be that document.
        candidates = [d for d in documents if d == cited or ("/" not in cited and d.rsplit("/", 1)[-1] == cited)]
        if not candidates:
            wrong.append(f"{name}:{line}: {cited} is not in the repository")
        elif section.startswith('"'):
            title = section.strip('"').lower()
            if not any(title in heading for d in candidates for heading in _titles(REPO / d)):
                wrong.append(f"{name}:{line}: {cited} has no section titled {section}")
        elif not any(section in _sections(REPO / d) for d in candidates):
            wrong.append(f"{name}:{line}: {cited} has no section {section}")
    return wrong


def test_the_check_reads_citations_and_headings() -> None:
    cited = {(c, s) for _, _, c, s in _citations(_tracked())}
    assert ("docs/spec/service-mode.md", "3.4") in cited
    assert ("docs/benchmarks.md", '"c1z store"') in cited  # connector/baton/c1z/store.py's docstring
    assert {"0.2", "3.4", "6.3"} <= _sections(REPO / "docs/spec/service-mode.md")
    assert "replicas." in _titles(REPO / "docs/deployment.md")


def test_every_cited_section_exists() -> None:
    assert _unresolved(_tracked()) == []


def _missing_paths(text: str) -> list[str]:
    """Each path cited in `text` that names nothing here: a document, a module, a fixture (a `*` in it a glob that
    must match), or a folder (written with its closing `/`); and a test module named alone (`test_outage.py`)."""
    missing = []
    for m in _PATH.finditer(text):
        cited = m.group(1)
        if "*" in cited:
            found = any(REPO.glob(cited.rstrip("/")))
        else:
            found = (REPO / cited).is_dir() if cited.endswith("/") else (REPO / cited).exists()
        if not found:
            missing.append(cited)
    return missing + [m.group(1) for m in _TEST_MODULE.finditer(text) if m.group(1) not in _test_modules()]


_PATH = re.compile(
    r"(?<![\w./:-])((?:connector|docs|tests|benchmarks|deploy|charts|scripts)/[\w./*-]*[\w*-](?:\.[A-Za-z0-9]+|/))"
    r"(?![\w/-])"
)
_TEST_MODULE = re.compile(r"`(test_\w+\.py)`")


@functools.cache
def _test_modules() -> frozenset[str]:
    return frozenset(p.name for p in REPO.glob("tests/**/test_*.py"))


def test_the_path_check_reads_every_kind_of_path() -> None:
    here = "docs/c1z.md, connector/baton/c1z/store.py, tests/fixtures/c1z/old-sdk-v0.1.14.*.c1z, tests/fakes/datadog/,"
    here += " `test_layers.py`"
    assert _missing_paths(here) == []
    gone = "docs/gone.md, connector/gone.py, tests/fixtures/gone-*.json, tests/gone/, `test_gone.py`"
    gone_paths = ["docs/gone.md", "connector/gone.py", "tests/fixtures/gone-*.json", "tests/gone/"]
    assert _missing_paths(gone) == [*gone_paths, "test_gone.py"]


def test_every_cited_path_is_in_the_repository() -> None:
    """A path (`docs/c1z.md`, `connector/datadog/netio.py`, `tests/fixtures/datadog/README.md`, `tests/fakes/`) names
    a file or folder here, not one a rename or a deletion left behind. The reference specs (docs/spec/) also cite the
    Go repositories' own files, and are left out; so is this module, whose own test cites paths that are not here."""
    missing = [
        f"{name}: {cited}"
        for name in _tracked()
        if not name.startswith("docs/spec/") and name != "tests/test_citations.py"
        for cited in _missing_paths((REPO / name).read_text(errors="replace"))
    ]
    assert missing == []
