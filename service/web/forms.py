"""The forms of the pages (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import MultiDict
from wtforms import (
    FieldList,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from service.web.i18n import LANGUAGES

ROLE_LABELS = {"manager": _l("Manager"), "admin": _l("Administrator")}


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class SignInForm(FlaskForm):  # type: ignore[misc]
    """An API key to sign in with."""

    api_key = PasswordField(_l("API key"), validators=[InputRequired(message=_l("Enter your API key."))])
    next = HiddenField()


class LanguageForm(FlaskForm):  # type: ignore[misc]
    """The language switcher: the pressed button's value."""

    lang = StringField(validators=[AnyOf(list(LANGUAGES))])
    next = HiddenField()


class CreateKeyForm(FlaskForm):  # type: ignore[misc]
    """A new API key: who it is for, its role and, optionally, in how many days it stops working."""

    name = StringField(_l("Name"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the key a name, such as the person or system that will use it.")),
        Length(max=120, message=_l("Use at most 120 characters."))])
    role = SelectField(_l("Role"), choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()],
                       default="manager")
    expires_in_days = IntegerField(_l("Expires in days (optional)"), validators=[
        Optional(), NumberRange(min=1, max=3650, message=_l("Give a whole number of days from 1 to 3650, or leave it "
                                                            "empty for a key that never expires."))])


class RevokeKeyForm(FlaskForm):  # type: ignore[misc]
    """Revoke the key with this public prefix."""

    prefix = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f]{8}$")])


class ReplayEventForm(FlaskForm):  # type: ignore[misc]
    """Replay one failed event (its id is in the URL); the list page to go back to."""

    page = HiddenField()


class FromTemplateForm(FlaskForm):  # type: ignore[misc]
    """Create a persona (and the fields it needs) from a built-in persona template."""

    template = SelectField(_l("Template"), validators=[InputRequired(message=_l("Pick a template."))])
    field_prefix = StringField(_l("Field key prefix (optional)"), filters=[_stripped], validators=[
        Optional(), Regexp(r"^[a-z][a-z0-9_]{0,39}$", message=_l(
            "Use up to 40 lowercase letters, digits and underscores, starting with a letter, such as acme_."))])


def _positive(form: FlaskForm, field: Any) -> None:
    if field.data is not None and not 0 < field.data <= 100:
        raise ValidationError(_l("A weight is more than 0 and at most 100."))


class PersonaEditForm(FlaskForm):  # type: ignore[misc]
    """A persona's name and the weights of its criteria (in their order); the version they were read at."""

    name = StringField(_l("Name"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the persona a name.")),
        Length(max=200, message=_l("Use at most 200 characters."))])
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    weights = FieldList(FloatField(_l("Weight"), validators=[
        InputRequired(message=_l("Enter a number, such as 1 or 2.5.")), _positive]))


class ReviewedForm(FlaskForm):  # type: ignore[misc]
    """Mark a persona reviewed today (nothing but the CSRF token)."""


class ExampleLeadForm(FlaskForm):  # type: ignore[misc]
    """The field values of an example lead; example_lead_form adds one input per field."""

    PREFIX = "v_"  # one value
    MULTI = "m_"  # a list of values (multi_enum)


def example_values(formdata: MultiDict[str, str]) -> dict[str, Any]:
    """The values of an example lead posted by an example_lead_form, by field key; blank inputs are left out
    (the lead does not know them), a field given several values (a multi-select) keeps them all. The scoring
    use case checks each value against its field."""
    given: dict[str, Any] = {}
    for name in formdata:
        values = [v.strip() for v in formdata.getlist(name) if v.strip()]
        if name.startswith(ExampleLeadForm.MULTI) and values:
            given[name.removeprefix(ExampleLeadForm.MULTI)] = values
        elif name.startswith(ExampleLeadForm.PREFIX) and values:
            given[name.removeprefix(ExampleLeadForm.PREFIX)] = values[0]
    return given


def example_lead_form(fields: Sequence[Mapping[str, Any]], formdata: Any = _Auto) -> ExampleLeadForm:
    """A form with an input for each of `fields` (key, label, type, options), chosen by the field's type."""

    class Form(ExampleLeadForm):
        pass

    blank = SelectChoice("", "—")
    for f in fields:
        options = [SelectChoice(o, o) for o in f["options"]]
        unbound: Any
        if f["type"] == "enum":
            unbound = SelectField(f["label"], choices=[blank, *options])
        elif f["type"] == "multi_enum":
            unbound = SelectMultipleField(f["label"], choices=options)
        elif f["type"] == "boolean":
            unbound = SelectField(f["label"], choices=[blank, SelectChoice("true", _l("Yes")),
                                                       SelectChoice("false", _l("No"))])
        else:
            unbound = StringField(f["label"], filters=[_stripped],
                                  render_kw={"type": "date"} if f["type"] == "date" else None)
        prefix = ExampleLeadForm.MULTI if f["type"] == "multi_enum" else ExampleLeadForm.PREFIX
        setattr(Form, prefix + f["key"], unbound)
    return Form(formdata=formdata)
