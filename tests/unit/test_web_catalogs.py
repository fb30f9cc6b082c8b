"""The pages' message catalogs (service/web/translations) are complete: every string the pages pass through
gettext is in the Russian and English catalogs, and every Russian entry is translated with the same
placeholders. `make messages` extracts and updates the catalogs; a translator fills the new entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "service" / "web"
# The lazy forms used by module-level strings (forms, error titles), as `make messages` passes them.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_strings() -> set[str]:
    """Every msgid the pages' code and templates pass through gettext, extracted as pybabel does."""
    with (WEB / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(WEB), method_map, options_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(language: str) -> Catalog:
    with (WEB / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_the_pages_use_gettext_at_all() -> None:
    assert {"Sign in", "API keys", "Page not found"} <= used_strings()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_string_of_the_pages_is_in_the_catalog(language: str) -> None:
    held = {m.id for m in catalog(language) if m.id}
    assert sorted(used_strings() - held) == []


def test_every_russian_entry_is_translated_and_keeps_its_placeholders() -> None:
    untranslated, fuzzy, placeholders = [], [], []
    for message in catalog("ru"):
        if not message.id:
            continue
        if not message.string or not str(message.string).strip():
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
        if set(PLACEHOLDER.findall(str(message.id))) != set(PLACEHOLDER.findall(str(message.string))):
            placeholders.append(message.id)
    assert (untranslated, fuzzy, placeholders) == ([], [], [])


def test_every_rfm_segment_the_pages_translate_as_data_is_extracted() -> None:
    """Templates show segment names through `_(row.name)`, which no extractor sees: segment_names.py lists them,
    so `make messages` keeps their entries (and the check above, their Russian)."""
    from service.domain.analytics.rfm import Segment
    from service.web.segment_names import SEGMENT_NAMES

    assert set(SEGMENT_NAMES) == set(Segment)
    assert {str(s.value) for s in Segment} <= used_strings()
