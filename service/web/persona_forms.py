"""The criteria editor of a persona's page (Flask-WTF: each form carries a CSRF token): one form per criterion
(prefix c<n>-) and one to add a criterion (prefix new-). The form only turns the inputs into a criterion as the
API takes it; what is allowed (fields, matchers per field type, values, weights) is checked by the API's schema
and the persona use case, whose errors (by path, such as criteria.2.values) are put back on the inputs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

MATCHER_LABELS = {
    "equals": _l("is"), "in": _l("is one of"), "range": _l("is in a range"),
    "contains_any": _l("contains any of"), "contains_all": _l("contains all of"),
    "regex": _l("matches a pattern"), "boolean": _l("is yes or no"),
}
KIND_LABELS = {"nice": _l("nice to have"), "must": _l("must have"), "disqualifier": _l("rules out")}
UNIT_LABELS = {"": "—", "days": _l("days"), "months": _l("months"), "years": _l("years")}
YES, NO = ("yes", "true", "да", "1"), ("no", "false", "нет", "0")
NEW = "new-"  # the prefix of the form adding a criterion
# The input that shows the errors of each criterion key.
INPUT_OF = {"value": "values", "values": "values", "pattern": "values", "field": "field", "matcher": "matcher",
            "kind": "kind", "weight": "weight", "min": "min", "max": "max", "soft_margin": "soft_margin",
            "unit": "unit", "blank_is_value": "blank_is_value"}


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _decimal_text(value: object) -> object:
    # A decimal comma (2,5) is how Russian readers write numbers; the schema reads a point.
    text = _stripped(value)
    return text.replace(",", ".") if isinstance(text, str) and text.count(",") == 1 and "." not in text else text


class CriterionForm(FlaskForm):  # type: ignore[misc]
    """One criterion: its field, matcher, kind, values (or pattern, or bounds), weight; the persona version it
    was read at. Choices are not checked here: the use case names an unknown field or matcher itself."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    field = SelectField(_l("Field"), validate_choice=False)
    matcher = SelectField(_l("Matches when the value"), validate_choice=False,
                          choices=[SelectChoice(m, label) for m, label in MATCHER_LABELS.items()])
    kind = SelectField(_l("Kind"), validate_choice=False,
                       choices=[SelectChoice(k, label) for k, label in KIND_LABELS.items()])
    # Not stripped as a whole: each line is (a blank one is the empty value with blank_is_value), a pattern not.
    values = TextAreaField(_l("Values, one a line"), render_kw={"rows": 3})
    min = StringField(_l("Range from"), filters=[_decimal_text], render_kw={"inputmode": "decimal", "size": 8})
    max = StringField(_l("Range to"), filters=[_decimal_text], render_kw={"inputmode": "decimal", "size": 8})
    soft_margin = StringField(_l("Partly up to this far outside"), filters=[_decimal_text],
                              render_kw={"inputmode": "decimal", "size": 8})
    unit = SelectField(_l("Age in (date fields)"), validate_choice=False,
                       choices=[SelectChoice(u, label) for u, label in UNIT_LABELS.items()])
    weight = StringField(_l("Weight"), filters=[_decimal_text], default="1",
                         render_kw={"inputmode": "decimal", "size": 5})
    blank_is_value = BooleanField(_l("A blank field counts as a mismatch, not as unknown"))


def criterion_form(fields: Sequence[Mapping[str, Any]], prefix: str, criterion: Mapping[str, Any] | None = None,
                   version: int | None = None, formdata: Any = _Auto) -> CriterionForm:
    """A CriterionForm with prefix `prefix` offering `fields` (key, label, type), filled from `criterion` (a
    stored criterion) and `version` when given, else from the posted form."""
    data: dict[str, Any] = {"version": version}
    if criterion is not None:
        data.update(_inputs_of(criterion))
        formdata = None
    form = CriterionForm(formdata=formdata, prefix=prefix, data=data)
    form.field.choices = [SelectChoice(f["key"], f"{f['label']} ({f['key']})") for f in fields]
    return form


def _number_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _inputs_of(c: Mapping[str, Any]) -> dict[str, Any]:
    matcher = c.get("matcher")
    if matcher == "boolean":
        values = "yes" if c.get("value") else "no"
    elif matcher == "equals":
        values = _number_text(c.get("value"))
    elif matcher == "regex":
        values = c.get("pattern") or ""
    else:
        values = "\n".join(str(v) for v in c.get("values") or ())
    return {"field": c.get("field"), "matcher": matcher, "kind": c.get("kind", "nice"), "values": values,
            "min": _number_text(c.get("min")), "max": _number_text(c.get("max")),
            "soft_margin": _number_text(c.get("soft_margin")), "unit": c.get("unit") or "",
            "weight": _number_text(c.get("weight", 1)), "blank_is_value": bool(c.get("blank_is_value"))}


def _boolean(text: str) -> object:
    low = text.lower()
    return True if low in YES else False if low in NO else (text or None)


def criterion_of(form: CriterionForm) -> dict[str, Any]:
    """The criterion the form describes, as the API takes it: the values box is read as the matcher needs it
    (one value, a list a line each, a pattern or yes/no); an input the matcher does not use is passed on when
    filled, so the use case names it instead of the page dropping it silently."""
    matcher, text, blank = form.matcher.data or "", form.values.data or "", bool(form.blank_is_value.data)
    # With blank_is_value, the empty value is a value: a blank line of the list (or an empty box) stands for it.
    lines = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip() or blank))
    if blank and not lines and matcher in ("equals", "in"):
        lines = [""]
    out: dict[str, Any] = {"field": form.field.data or "", "matcher": matcher, "kind": form.kind.data or "nice",
                           "weight": form.weight.data or None, "blank_is_value": blank}
    if matcher == "equals":
        out["value"] = lines[0] if len(lines) == 1 else (lines or None)
    elif matcher == "boolean":
        out["value"] = _boolean(lines[0]) if len(lines) == 1 else (lines or None)
    elif matcher == "regex":
        out["pattern"] = text.strip("\r\n") or None  # a pattern's own spaces are kept
    elif matcher != "range" or lines:
        out["values"] = lines
    for key in ("min", "max", "soft_margin", "unit"):
        if form[key].data:
            out[key] = form[key].data
    if out["weight"] is None:
        del out["weight"]  # the default weight
    return out


def show_errors(form: CriterionForm, errors: Mapping[str, Sequence[str]], index: int) -> list[str]:
    """Put the use case's `errors` about criterion number `index` (paths criteria.<index>.<key>) on the form's
    inputs; returns the other messages, each with its path, for the page to show above the form."""
    others: list[str] = []
    mine = f"criteria.{index}."
    for path, messages in errors.items():
        name = INPUT_OF.get(path.removeprefix(mine)) if path.startswith(mine) else None
        if name is None:
            others.extend(f"{path}: {reworded(m)}" for m in messages)
        else:
            form[name].errors = [*form[name].errors, *(reworded(m) for m in messages)]
    return others


# The use case's messages (English, written for the API) reworded for the page, in the reader's language.
_REWORDED: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^unknown field '(.*)'$"), lambda m: _l("There is no field %(key)s.", key=m[1])),
    (re.compile(r"^unknown option '(.*)'$"), lambda m: _l("%(value)s is not one of the field's options.",
                                                           value=m[1])),
    (re.compile(r"^(must be a (finite )?number|Not a valid number\.)$"),
     lambda m: _l("Enter a number, such as 10 or 2.5.")),
    (re.compile(r"^(must be a number greater than 0 and at most 100|"
                r"Must be greater than 0 and less than or equal to 100\.)$"),
     lambda m: _l("A weight is more than 0 and at most 100.")),
    (re.compile(r"^(\w+) is not allowed for (\w+) fields \(use (.*)\)$"),
     lambda m: _l("“%(matcher)s” does not fit a field of this type; use %(allowed)s.",
                  matcher=MATCHER_LABELS.get(m[1], m[1]),
                  allowed=", ".join(f"“{MATCHER_LABELS.get(a, a)}”" for a in m[3].split(", ")))),
    (re.compile(r"^not used by matcher \w+$"), lambda m: _l("Leave this empty for this matcher.")),
    (re.compile(r"^a range needs min, max or both$"), lambda m: _l("Give the lower bound, the upper bound or both.")),
    (re.compile(r"^must not be greater than max$"), lambda m: _l("The lower bound is above the upper bound.")),
    (re.compile(r"^must be true or false$"), lambda m: _l("Enter yes or no.")),
    (re.compile(r"^must be a string$"), lambda m: _l("Enter one value.")),
    (re.compile(r"^must be a non-empty list of strings$"), lambda m: _l("Enter at least one value, one a line.")),
)


def reworded(message: str) -> str:
    """`message` from the persona use case as the page says it (translated); unknown messages unchanged."""
    for pattern, say in _REWORDED:
        match = pattern.match(message)
        if match:
            return str(say(match))
    return message
