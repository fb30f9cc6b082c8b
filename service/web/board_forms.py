"""The pipeline board's form: a gate mode per stage column, a "required at this stage" checkbox per cell and,
per ticked cell, a condition: up to `MAX_ROWS` comparisons (`field`, `operator`, `value`) joined by "all of" or
"any of", or an existing more deeply nested condition carried as it was stored; and how many days of recorded
moves the preview replays. The cells are named after the stage's number and the field's key, so the form is
read here rather than declared field by field; the proposal it gives is checked again by the use case."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from service.domain.condition_model import OPERATORS
from service.services.board import JOINS, MAX_ROWS, PREVIEW_DAYS

MODE = re.compile(r"^mode-(\d{1,10})$")
CELL = re.compile(r"^(?:req|if)-(\d{1,10})(?:-[a-z][a-z0-9_]{0,63}-(?:json|join|\d{1,2}-(?:field|op|value)))?$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_STAGES, MAX_TEXT = 200, 2000
EMPTY_ROWS = 2  # blank comparison rows a cell offers beyond its own (no script: the admin fills one in)
DAYS = re.compile(r"^\d{1,4}$")


class BoardForm(FlaskForm):  # type: ignore[misc]
    """The board (its cells are read by `board_proposal`); carries the CSRF token."""


def _condition(form: Mapping[str, str], prefix: str, errors: list[str]) -> dict[str, Any]:
    """The cell's comparisons with their join, its kept nested condition, or nothing (every operator empty)."""
    kept = form.get(f"{prefix}-json", "").strip()
    if kept:
        try:
            return {"required_if": json.loads(kept[:MAX_TEXT])}
        except ValueError:
            errors.append(_("A kept condition is not valid JSON."))
            return {}
    join = form.get(f"{prefix}-join", "all")
    if join not in JOINS:
        errors.append(_("A condition holds when all or any of its comparisons hold."))
        return {}
    rows = []
    for n in range(MAX_ROWS):
        op = form.get(f"{prefix}-{n}-op", "").strip()
        if not op:
            continue
        field = form.get(f"{prefix}-{n}-field", "").strip()
        if op not in OPERATORS:
            errors.append(_("Unknown operator %(op)s.", op=op[:20]))
        elif not KEY.match(field):
            errors.append(_("Pick the field a condition compares."))
        else:
            rows.append({"field": field, "op": op, "value": form.get(f"{prefix}-{n}-value", "")[:MAX_TEXT]})
    return {"when": {"join": join, "rows": rows}} if rows else {}


def board_proposal(form: MultiDict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The proposal of the posted board (services/board.py) and what is wrong with the form itself, if
    anything: every stage column posts its mode, so a stage without one is left as stored."""
    errors: list[str] = []
    stages: dict[int, dict[str, Any]] = {}
    for name in form:
        match = MODE.match(name)
        if match is None:
            continue
        if len(stages) >= MAX_STAGES:
            errors.append(_("The board has too many stages."))
            break
        sid = int(match.group(1))
        requirements = []
        for key in dict.fromkeys(form.getlist(f"req-{sid}")):
            if not KEY.match(key):
                errors.append(_("Unknown field %(key)s.", key=key[:64]))
                continue
            requirements.append({"field": key, **_condition(form, f"if-{sid}-{key}", errors)})
        stages[sid] = {"mode": form.get(name, ""), "requirements": requirements}
    if not stages:
        errors.append(_("The form has no stages: reload the board and try again."))
    return {"stages": stages}, errors


def carried(form: MultiDict[str, str]) -> list[tuple[str, str]]:
    """The board's own inputs of a posted form, to post the same proposal again as hidden fields."""
    return [(name, value) for name, value in form.items(multi=True) if MODE.match(name) or CELL.match(name)]


def preview_days(form: MultiDict[str, str]) -> tuple[int, list[str]]:
    """How many days of recorded moves the preview replays (90 when the form gives none), and what is wrong
    with the number typed, if anything; its range is checked by the preview itself."""
    text = form.get("days", "").strip()
    if not text:
        return PREVIEW_DAYS, []
    if not DAYS.match(text):
        return PREVIEW_DAYS, [_("Give the days of moves to replay as a whole number.")]
    return int(text), []
