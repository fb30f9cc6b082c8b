"""The pipeline board's form: a gate mode per stage column, a "required at this stage" checkbox per cell and,
per ticked cell, one comparison (`field`, `operator`, `value`) or an existing more complex condition carried as
it was stored. The cells are named after the stage's number and the field's key, so the form is read here
rather than declared field by field; the proposal it gives is checked again by the use case."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from service.domain.condition_model import OPERATORS

MODE = re.compile(r"^mode-(\d{1,10})$")
CELL = re.compile(r"^(?:req|if)-(\d{1,10})(?:-[a-z][a-z0-9_]{0,63}-(?:field|op|value|json))?$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_STAGES, MAX_TEXT = 200, 2000


class BoardForm(FlaskForm):  # type: ignore[misc]
    """The board (its cells are read by `board_proposal`); carries the CSRF token."""


def _condition(form: Mapping[str, str], prefix: str, errors: list[str]) -> dict[str, Any]:
    """The cell's comparison, its kept complex condition, or nothing (an empty operator)."""
    kept = form.get(f"{prefix}-json", "").strip()
    if kept:
        try:
            return {"required_if": json.loads(kept[:MAX_TEXT])}
        except ValueError:
            errors.append(_("A kept condition is not valid JSON."))
            return {}
    op = form.get(f"{prefix}-op", "").strip()
    if not op:
        return {}
    field = form.get(f"{prefix}-field", "").strip()
    if op not in OPERATORS:
        errors.append(_("Unknown operator %(op)s.", op=op[:20]))
    elif not KEY.match(field):
        errors.append(_("Pick the field a condition compares."))
    else:
        return {"when": {"field": field, "op": op, "value": form.get(f"{prefix}-value", "")[:MAX_TEXT]}}
    return {}


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
