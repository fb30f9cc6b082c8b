"""The forms of the fields pages (Flask-WTF: each carries a CSRF token): a new field, a field's label and
constraints, and one connection's mapping of a field (its value map is read from the posted form)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from service.domain.fieldtypes import NUMERIC_TYPES, OPTION_TYPES, TEXT_LIKE_TYPES, FieldType

TYPE_LABELS = {
    FieldType.TEXT: _l("Text"), FieldType.NUMBER: _l("Number"), FieldType.INTEGER: _l("Whole number"),
    FieldType.MONEY: _l("Money"), FieldType.BOOLEAN: _l("Yes or no"), FieldType.DATE: _l("Date"),
    FieldType.ENUM: _l("One of a list"), FieldType.MULTI_ENUM: _l("Several of a list"),
    FieldType.EMAIL: _l("Email"), FieldType.PHONE: _l("Phone"), FieldType.URL: _l("Web address"),
}
VALUE_MAP = "vm:"  # the prefix of a value map input: vm:<the CRM option's value>
ACTIONS = ("show", "save", "remove")


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _decimal(form: FlaskForm, field: Any) -> None:
    if not field.data:
        return
    try:
        number = Decimal(field.data)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(_l("Enter a number, such as 10 or 2.5."))


class ConstraintsForm(FlaskForm):  # type: ignore[misc]
    """A field's constraints; only those of its type are used (constraints_of)."""

    min = StringField(_l("Minimum"), filters=[_stripped], validators=[Optional(), _decimal])
    max = StringField(_l("Maximum"), filters=[_stripped], validators=[Optional(), _decimal])
    min_length = IntegerField(_l("Minimum length"), validators=[Optional(), NumberRange(min=0, max=100_000)])
    max_length = IntegerField(_l("Maximum length"), validators=[Optional(), NumberRange(min=1, max=100_000)])
    regex = StringField(_l("Pattern (regular expression)"), filters=[_stripped],
                        validators=[Optional(), Length(max=500)])
    options = TextAreaField(_l("Options, one a line"), render_kw={"rows": 5})
    label = StringField(_l("Label"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the field a label.")),
        Length(max=200, message=_l("Use at most 200 characters."))])
    label_ru = StringField(_l("Label in Russian (optional)"), filters=[_stripped],
                           validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters."))])


class FieldCreateForm(ConstraintsForm):
    """A new portrait field: its key and type (fixed once created), labels and constraints."""

    key = StringField(_l("Key"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the field a key.")),
        Regexp(r"^[a-z][a-z0-9_]{0,63}$", message=_l(
            "Use up to 64 lowercase letters, digits and underscores, starting with a letter, such as company_size."))])
    type = SelectField(_l("Type"), choices=[SelectChoice(t.value, label) for t, label in TYPE_LABELS.items()],
                       default=FieldType.TEXT.value)


class MappingForm(FlaskForm):  # type: ignore[misc]
    """One connection's mapping of a field: the CRM property and what to do (show its options, save, remove)."""

    property = StringField(_l("CRM property"), filters=[_stripped], validators=[Optional(), Length(max=200)])
    action = SelectField(choices=[SelectChoice(a, a) for a in ACTIONS], default="show")


class DeleteFieldForm(FlaskForm):  # type: ignore[misc]
    """Deleting a field: asked to be confirmed, as it cannot be undone."""

    confirm = BooleanField(_l("Yes, delete this field and its mappings"),
                           validators=[DataRequired(_l("Tick the box to confirm the deletion."))])


def constraints_of(form: ConstraintsForm, kind: str | None = None) -> dict[str, Any]:
    """The constraints entered in `form` that apply to a field of type `kind` (the others are ignored), or all
    those entered when `kind` is None."""
    field_type = FieldType(kind) if kind else None
    found: dict[str, Any] = {}
    if field_type is None or field_type in NUMERIC_TYPES:
        found.update({"min": form.min.data or None, "max": form.max.data or None})
    if field_type is None or field_type in TEXT_LIKE_TYPES:
        found.update({"min_length": form.min_length.data, "max_length": form.max_length.data,
                      "regex": form.regex.data or None})
    if field_type is None or field_type in OPTION_TYPES:
        lines = [line.strip() for line in (form.options.data or "").splitlines()]
        found["options"] = list(dict.fromkeys(line for line in lines if line))
    return {name: value for name, value in found.items() if value is not None and value != []}


def labels_of(form: ConstraintsForm) -> dict[str, Any]:
    """The labels entered in `form` (a blank Russian label is none)."""
    return {"label": form.label.data, "label_ru": form.label_ru.data or None}


def posted_value_map(formdata: MultiDict[str, str]) -> dict[str, str]:
    """The value map posted with a MappingForm: CRM option value -> field value, options left blank omitted."""
    return {name.removeprefix(VALUE_MAP): value.strip() for name, value in formdata.items()
            if name.startswith(VALUE_MAP) and value.strip()}


def constraint_inputs(kind: str) -> tuple[str, ...]:
    """The names of the constraint inputs a field of type `kind` has."""
    field_type = FieldType(kind)
    if field_type in NUMERIC_TYPES:
        return ("min", "max")
    if field_type in TEXT_LIKE_TYPES:
        return ("min_length", "max_length", "regex")
    if field_type in OPTION_TYPES:
        return ("options",)
    return ()
