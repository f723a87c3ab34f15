"""The documentation holds together: a short README, links that lead somewhere, no cited page
that the repository lacks.

- README.md stays a way in (at most 10 KiB); the reference lives in docs/.
- Every relative link of README.md and docs/**/*.md resolves to a file or folder of the
  repository (and a ``#fragment`` into a Markdown page names one of its headings).
- No source, data or doc file cites the design guide or the lab notes by their old names
  (they were never in the repository: their facts are in docs/design.md and docs/lab-notes.md),
  and every ``docs/...`` path a file names exists.
- The lab's tables live in one place, tests/lab/README.md (generated from the topology).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README_LIMIT = 10 * 1024

# Spelled in two parts so that this file does not cite them itself.
STALE_CITATIONS = ("DESIGN" + ".md", "LAB" + "-NOTES")
SCANNED_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".j2", ".txt", ".cfg", ".ini"}
SCANNED_NAMES = {"Makefile"}
SKIPPED_DIRS = {".git", ".venv", "venv", "out", "gapscan-out", "build", "dist", "node_modules", "__pycache__",
                ".mypy_cache", ".ruff_cache", ".pytest_cache"}

# [text](target) and ![alt](target); a target ends at whitespace or the closing parenthesis.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# A docs/ path named anywhere (prose, comments, code spans), not part of a longer path or URL,
# with its #section when it names one.
_DOCS_PATH = re.compile(r"(?<![\w./-])(docs/[\w./-]*)(?:#([\w-]+))?")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def repo_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files (git), or a walk of the tree without git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                                text=True, timeout=30, check=True).stdout.splitlines()
        return [REPO / name for name in listed if (REPO / name).is_file()]
    except (OSError, subprocess.SubprocessError):
        found = []
        for path in REPO.rglob("*"):
            rel = path.relative_to(REPO)
            if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in rel.parts):
                continue
            if path.is_file():
                found.append(path)
        return found


def scanned_files() -> list[Path]:
    return sorted(p for p in repo_files() if p.suffix in SCANNED_SUFFIXES or p.name in SCANNED_NAMES)


def doc_pages() -> list[Path]:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [p for p in pages if p.is_file()]


def strip_code(markdown: str) -> str:
    """Links inside code blocks and code spans are examples, not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, -1/-2 for repeats."""
    anchors: set[str] = set()
    for title in _HEADING.findall(_FENCE.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def relative_links(page: Path) -> list[str]:
    targets = _LINK.findall(strip_code(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def broken_link(page: Path, target: str) -> str | None:
    path_part, _, fragment = target.partition("#")
    resolved = (page.parent / path_part).resolve() if path_part else page
    if not resolved.is_relative_to(REPO):
        return f"{target}: leads outside the repository"
    if not resolved.exists():
        return f"{target}: no such file"
    return missing_heading(resolved, fragment, target)


def missing_heading(page: Path, fragment: str, cited: str) -> str | None:
    if fragment and page.is_file() and page.suffix == ".md" and \
            fragment.lower() not in heading_anchors(page.read_text(encoding="utf-8")):
        return f"{cited}: {page.relative_to(REPO)} has no heading #{fragment}"
    return None


def test_readme_is_a_way_in_not_a_reference() -> None:
    size = len((REPO / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes (limit {README_LIMIT}): move the reference into docs/"


def test_docs_index_and_pages_exist() -> None:
    assert (REPO / "docs" / "README.md").is_file()
    assert len(doc_pages()) > 2


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [b for t in relative_links(page) if (b := broken_link(page, t))]
    assert not problems, f"{page.relative_to(REPO)}: " + "; ".join(problems)


def test_no_file_cites_a_document_the_repository_lacks() -> None:
    problems: list[str] = []
    for path in scanned_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(REPO)
        for number, line in enumerate(text.splitlines(), 1):
            problems += [f"{rel}:{number}: cites {name}" for name in STALE_CITATIONS if name in line]
            for cited, fragment in _DOCS_PATH.findall(line):
                cited = cited.rstrip(".,;:")
                if not (REPO / cited).exists():
                    problems.append(f"{rel}:{number}: cites {cited}, which does not exist")
                elif bad := missing_heading(REPO / cited, fragment, f"{cited}#{fragment}"):
                    problems.append(f"{rel}:{number}: {bad}")
    assert not problems, "\n".join(problems)


def test_lab_tables_live_only_in_the_lab_readme() -> None:
    header = "| Host | Address | Role |"
    copies = [str(p.relative_to(REPO)) for p in repo_files()
              if p.suffix == ".md" and p != REPO / "tests" / "lab" / "README.md"
              and header in p.read_text(encoding="utf-8")]
    assert not copies, f"the lab table is generated into tests/lab/README.md only; remove the copy in {copies}"
