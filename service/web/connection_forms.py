"""The form connecting a CRM from the admin pages (Flask-WTF: it carries a CSRF token). It holds an input for
every secret any CRM takes; the page shows and reads only those of the chosen CRM. Secrets are password inputs,
never drawn back into the page, and the posted input is checked again by the API's own schema."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from schemas.connections import ConnectionInSchema
from service.errors import InvalidInputError

SECRET_LABELS = {
    "access_token": _l("Access token"),
    "client_secret": _l("Client secret"),
    "refresh_token": _l("Refresh token"),
    "webhook_username": _l("Webhook user"),
    "webhook_password": _l("Webhook password"),
    "application_token": _l("Application token"),
}
SECRET_HINTS = {
    "access_token": _l("HubSpot: the private app's token. Pipedrive: the API token. amoCRM or Kommo: the access "
                       "(or long-lived) token. Bitrix24: an OAuth token, not needed with an incoming-webhook URL."),
    "client_secret": _l("HubSpot: the app's client secret, which signs its webhooks. amoCRM or Kommo: the "
                        "integration's secret key."),
    "refresh_token": _l("amoCRM or Kommo: the OAuth refresh token (Qualify stores each new one)."),
    "webhook_username": _l("The HTTP user Pipedrive sends with each webhook; qualify when left empty."),
    "webhook_password": _l("The HTTP password you will also give the Pipedrive webhook."),
    "application_token": _l("The application_token Bitrix24 shows for the outbound webhook."),
}
BASE_URL_HINTS = {
    "hubspot": _l("HubSpot's API address, as filled in."),
    "pipedrive": _l("Your company's address, such as https://acme.pipedrive.com."),
    "amocrm": _l("Your account's address, such as https://acme.amocrm.ru or https://acme.kommo.com."),
    "bitrix24": _l("Your portal's address or its incoming-webhook URL (it is kept secret)."),
}
LANGUAGE_LABELS = {"en": _l("English"), "ru": _l("Russian")}


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _secret(name: str) -> PasswordField:
    return PasswordField(SECRET_LABELS[name], filters=[_stripped], validators=[Optional(), Length(max=4000)])


class ConnectionForm(FlaskForm):  # type: ignore[misc]
    """A new connection: its name, the CRM's address and account, the language of the tasks it writes, and the
    secrets (only the chosen CRM's are shown)."""

    name = StringField(_l("Name"), filters=[_stripped], validators=[
        DataRequired(message=_l("Give the connection a name, such as the CRM account's.")),
        Length(max=120, message=_l("Use at most 120 characters."))])
    base_url = StringField(_l("API address"), filters=[_stripped], validators=[
        Optional(), Length(max=2000),
        Regexp(r"^https?://\S+$", message=_l("Give an address starting with http:// or https://."))])
    account_id = StringField(_l("Account id (optional)"), filters=[_stripped], validators=[
        Optional(), Length(max=64, message=_l("Use at most 64 characters."))])
    language = SelectField(_l("Language of the tasks Qualify writes in the CRM"),
                           choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()],
                           default="en")
    self_hosted = BooleanField(_l("On our own server (self-hosted)"))
    access_token = _secret("access_token")
    client_secret = _secret("client_secret")
    refresh_token = _secret("refresh_token")
    webhook_username = _secret("webhook_username")
    webhook_password = _secret("webhook_password")
    application_token = _secret("application_token")


def connection_input(form: ConnectionForm, crm: dict[str, Any]) -> dict[str, Any] | None:
    """The posted connection of CRM `crm` (services.connection_setup.crm_kind) as the API's schema loads it, or
    None after marking on the form each secret this CRM requires that is empty. InvalidInputError with the
    schema's messages when it refuses the input."""
    missing = [name for name in crm["required"] if not form[name].data]
    for name in missing:
        form[name].errors = [*form[name].errors, _l("Required for this CRM.")]
    if missing:
        return None
    raw: dict[str, Any] = {"name": form.name.data, "kind": crm["name"], "base_url": form.base_url.data or None,
                           "account_id": form.account_id.data or None, "language": form.language.data,
                           "self_hosted": bool(form.self_hosted.data)}
    raw.update({name: form[name].data for name in crm["secrets"] if form[name].data})
    try:
        data: dict[str, Any] = ConnectionInSchema().load(raw)
    except ValidationError as exc:
        errors = exc.normalized_messages()
        raise InvalidInputError("The connection's settings are not valid.",
                                {str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                                 for k, v in errors.items()}) from None
    return data


def forget_secrets(form: ConnectionForm, crm: dict[str, Any]) -> None:
    """Clear what the page must not draw back: the address when it may hold a secret (password inputs are
    never drawn with their value anyway)."""
    if crm["secret_base_url"]:
        form.base_url.data = ""
