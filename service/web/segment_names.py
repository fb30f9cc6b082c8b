"""Names the portrait pages translate as data (`_(row.name)` in the templates), listed here so that `make messages`
extracts them and keeps their translations: the RFM segments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from service.domain.analytics.rfm import Segment

SEGMENT_NAMES: dict[Segment, LazyString] = {
    Segment.CHAMPIONS: _l("Champions"),
    Segment.LOYAL: _l("Loyal"),
    Segment.POTENTIAL_LOYALISTS: _l("Potential loyalists"),
    Segment.NEW: _l("New"),
    Segment.PROMISING: _l("Promising"),
    Segment.NEED_ATTENTION: _l("Need attention"),
    Segment.ABOUT_TO_SLEEP: _l("About to sleep"),
    Segment.AT_RISK: _l("At risk"),
    Segment.CANT_LOSE: _l("Can't lose"),
    Segment.HIBERNATING: _l("Hibernating"),
    Segment.LOST: _l("Lost"),
}
