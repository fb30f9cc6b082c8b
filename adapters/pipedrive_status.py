"""Pipedrive's won/lost deal statuses as two virtual stages per pipeline, so Qualify sees closed deals.

Pipedrive stages are always open: a deal is won or lost through its `status` (open|won|lost) and keeps its
stage_id (https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide). Qualify reads won/lost from the
stage a deal stands in, so the adapter adds stages `won` and `lost` after every pipeline's real ones: a won or
lost deal reports that stage, and a move into it is a status change. The ids are not numbers, so they never
collide with Pipedrive's stage ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import StageInfo

WON, LOST = "won", "lost"
VIRTUAL_STAGES = (WON, LOST)
# A native requirement on a virtual stage is keyed "<pipeline id>:<stage>": the stage id alone is in every pipeline.
PIPELINE_STAGE_SEPARATOR = ":"


def is_virtual(stage_id: str | None) -> bool:
    """Whether `stage_id` is one of the virtual won/lost stages."""
    return stage_id in VIRTUAL_STAGES


def virtual_stages(last_order: int) -> tuple[StageInfo, StageInfo]:
    """The Won and Lost stages placed after a pipeline's last real stage (`last_order`)."""
    return (StageInfo(WON, "Won", last_order + 1, True, True, 1.0),
            StageInfo(LOST, "Lost", last_order + 2, True, False, 0.0))  # fmt: skip


def stage_of(status: Any, stage_id: Any) -> str | None:
    """The stage Qualify sees: the virtual one for a won/lost status, else the real stage id as text."""
    if status in VIRTUAL_STAGES:
        return str(status)
    return None if stage_id is None or stage_id == "" else str(stage_id)


def move_body(stage_id: str, pipeline_id: str | None) -> dict[str, str]:
    """Deal properties that put a deal into `stage_id`: a status for a virtual stage; a real stage and
    status open otherwise (so a move out of Won reopens the deal where it stood)."""
    properties = {"status": stage_id} if is_virtual(stage_id) else {"stage_id": stage_id, "status": "open"}
    if pipeline_id is not None:
        properties["pipeline_id"] = pipeline_id
    return properties


def stage_move(data: Mapping[str, Any], previous: Mapping[str, Any]) -> tuple[str | None, str | None] | None:
    """(old stage, new stage) of a v2 `change` when its stage or status changed into another Qualify stage,
    else None. `previous` holds only the changed fields; unchanged ones are read from `data`."""
    if "stage_id" not in previous and "status" not in previous:
        return None
    new = stage_of(data.get("status"), data.get("stage_id"))
    old = stage_of(previous.get("status", data.get("status")), previous.get("stage_id", data.get("stage_id")))
    return None if old == new else (old, new)
