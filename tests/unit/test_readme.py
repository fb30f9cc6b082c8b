"""The documentation: every setting in docs/settings.md, the README's two commands, no broken links."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _links(page: Path) -> list[str]:
    """The targets of the page's Markdown links, outside fenced code blocks."""
    return LINK.findall(FENCE.sub("", page.read_text()))


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of the page's headings ("## API overview" -> "api-overview")."""
    headings = re.findall(r"^#+ +(.+?) *$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_setting_is_in_the_settings_table() -> None:
    table = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name in (f"QUALIFY_{f.name.upper()}" for f in fields(Settings))
               if f"| `{name}` |" not in table]
    assert missing == []


def test_the_readme_shows_the_two_commands_and_links_the_settings() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
    assert "docs/settings.md" in [target.partition("#")[0] for target in _links(README)]


def test_the_readme_stays_a_short_users_document() -> None:
    assert len(README.read_text().splitlines()) <= 320


def test_every_relative_link_in_the_readme_and_docs_points_to_an_existing_file() -> None:
    assert DOCS, "docs/*.md is missing"
    broken = []
    for page in [README, *DOCS]:
        for target in _links(page):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.is_file():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
