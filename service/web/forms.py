"""The forms of the pages (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Regexp

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
    """A new API key: who it is for and its role."""

    name = StringField(_l("Name"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the key a name, such as the person or system that will use it.")),
        Length(max=120, message=_l("Use at most 120 characters."))])
    role = SelectField(_l("Role"), choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()],
                       default="manager")


class RevokeKeyForm(FlaskForm):  # type: ignore[misc]
    """Revoke the key with this public prefix."""

    prefix = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f]{8}$")])
