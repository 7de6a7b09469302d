"""The README and the pages under ``docs/``: every relative link and anchor resolves, and the
README stays a front page (its opening commands, at most about 200 lines)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 200
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found: set[str] = set()
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            title = match.group(1).strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def links(text: str) -> list[str]:
    prose = CODE.sub("", FENCE.sub("", text))
    return [t for t in LINK.findall(prose) if not re.match(r"^[a-z]+:", t)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif (
            anchor
            and resolved.suffix == ".md"
            and anchor not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no heading with that anchor")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## A section (with) punctuation\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-section-with-punctuation) [file](gone.md) [anchor](other.md#nope)\n"
        "[self](#top) `[code](ignored.md)`\n\n# Top\n"
    )
    assert broken_links(page) == [
        "gone.md: no such file",
        "other.md#nope: no heading with that anchor",
    ]


def test_the_readme_opens_with_the_two_commands_and_stays_short() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = FENCE.search(text)
    assert block is not None
    assert "nox -s bench_quick" in block.group(0) and "nox -s tests" in block.group(0)
    assert len(text.splitlines()) <= README_MAX_LINES


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {Path(t.partition("#")[0]).name for t in links((REPO / "README.md").read_text())}
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert pages - linked == set()
