"""Admin pages of portrait fields (/admin/fields): every field with the connections that map it and a form
for a new one; a field's page with its labels and constraints and, per connection, the CRM property mapped to
it, picked from the CRM's live property list (filtered by ?q=), with a value map from the property's options
to the field's values, and its deletion (confirmed; refused while a gate or persona uses the field). Mappings
are saved through the API's mapping use case, so the same guardrails apply."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from service.errors import NotFoundError, ServiceError
from service.services.field_page import field_page, fields_overview, save_mapping
from service.services.fields import create_field, delete_field, update_field
from service.web.auth import admin_only
from service.web.blueprints import ID, page_blueprint, page_runtime
from service.web.errors import error_page
from service.web.field_forms import (
    TYPE_LABELS,
    ConstraintsForm,
    DeleteFieldForm,
    FieldCreateForm,
    MappingForm,
    constraint_inputs,
    constraints_of,
    labels_of,
    posted_value_map,
)
from service.web.i18n import select_locale

bp = page_blueprint("admin_fields", __name__, url_prefix="/admin")


@bp.errorhandler(NotFoundError)
def no_such_field(exc: NotFoundError) -> Response:
    """A field or connection Qualify does not know: a 404 page that says so."""
    return error_page(404, _("There is no such field"),
                      _("Qualify has no field or connection with this number: the link may be wrong, or it was "
                        "removed."))


def _list_page(form: FieldCreateForm, status: int = 200, problem: ServiceError | None = None) -> Any:
    overview = fields_overview(page_runtime(), select_locale())
    return render_template("admin/fields.html", overview=overview, form=form, problem=problem,
                           type_labels=TYPE_LABELS), status


@bp.get("/fields")
@admin_only
def fields() -> Any:
    """Every field with the connections that map it, and the form for a new field."""
    return _list_page(FieldCreateForm())


@bp.post("/fields")
@admin_only
def create() -> Any:
    """Create a field, then show it; the form is kept with the use case's problem when it is refused."""
    form = FieldCreateForm()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    data = {"key": form.key.data, "type": form.type.data, **labels_of(form),
            "constraints": constraints_of(form, form.type.data)}
    try:
        created = create_field(page_runtime(), data)
    except ServiceError as exc:
        return _list_page(form, exc.status, exc)
    flash(_("Field “%(key)s” is created. Map a CRM property to it below.", key=created["key"]), "info")
    return redirect(url_for("admin_fields.field", field_id=created["id"]))


def _field_page(field_id: int, edit: ConstraintsForm | None = None, status: int = 200,
                problem: ServiceError | None = None, posted: dict[str, Any] | None = None,
                deletion: DeleteFieldForm | None = None, refused: ServiceError | None = None) -> Any:
    """The field's page; `posted` is a mapping form sent back ({"connection": id, "property": name, "value_map":
    {...}, "errors": {...}}) to show instead of the stored mapping."""
    chosen = {posted["connection"]: posted["property"]} if posted else None
    page = field_page(page_runtime(), field_id, select_locale(), request.args.get("q", "").strip()[:200], chosen)
    field = page["field"]
    if edit is None:
        c = field["constraints"] or {}
        edit = ConstraintsForm(formdata=None, label=field["label"], label_ru=field["label_ru"], min=c.get("min"),
                               max=c.get("max"), min_length=c.get("min_length"), max_length=c.get("max_length"),
                               regex=c.get("regex"), options="\n".join(c.get("options") or ()))
    return render_template("admin/field.html", page=page, field=field, edit=edit, problem=problem, posted=posted,
                           inputs=constraint_inputs(field["type"]), mapping_form=MappingForm(formdata=None),
                           deletion=deletion or DeleteFieldForm(formdata=None), refused=refused,
                           type_labels=TYPE_LABELS), status


@bp.get(f"/fields/<{ID}:field_id>")
@admin_only
def field(field_id: int) -> Any:
    """A field's labels and constraints, and per connection the CRM property mapped to it."""
    return _field_page(field_id)


@bp.post(f"/fields/<{ID}:field_id>")
@admin_only
def edit(field_id: int) -> Any:
    """Save a field's labels and constraints (its key and type are fixed)."""
    form = ConstraintsForm()
    if not form.validate_on_submit():
        return _field_page(field_id, edit=form, status=400)
    try:
        # The page shows only the inputs of the field's type; anything else posted is refused by the use case.
        update_field(page_runtime(), field_id, {**labels_of(form), "constraints": constraints_of(form)})
    except NotFoundError:
        raise
    except ServiceError as exc:
        return _field_page(field_id, edit=form, status=exc.status, problem=exc)
    flash(_("The field is saved; every connection's gates use it at once."), "info")
    return redirect(url_for("admin_fields.field", field_id=field_id))


@bp.post(f"/fields/<{ID}:field_id>/delete")
@admin_only
def delete(field_id: int) -> Any:
    """Delete a field and its mappings once confirmed; refused, with the gates or personas named, while any uses
    it."""
    form = DeleteFieldForm()
    if not form.validate_on_submit():
        return _field_page(field_id, status=400, deletion=form)
    try:
        key = delete_field(page_runtime(), field_id)
    except NotFoundError:
        raise
    except ServiceError as exc:
        return _field_page(field_id, status=exc.status, deletion=form, refused=exc)
    flash(_("Field “%(key)s” is deleted, with its mappings.", key=key), "info")
    return redirect(url_for("admin_fields.fields"))


@bp.post(f"/fields/<{ID}:field_id>/mappings/<{ID}:connection_id>")
@admin_only
def mapping(field_id: int, connection_id: int) -> Any:
    """On one connection: show a CRM property's options (nothing saved), map the property with its value map,
    or unmap the field. A mapping the guardrails refuse is shown with their message and suggestions."""
    form = MappingForm()
    value_map = posted_value_map(request.form)
    posted = {"connection": connection_id, "property": form.property.data or "", "value_map": value_map,
              "errors": {}}
    if not form.validate_on_submit():
        posted["errors"] = {"property": form.property.errors or [_("The form could not be read.")]}
        return _field_page(field_id, status=400, posted=posted)
    if form.action.data == "show":
        return _field_page(field_id, posted=posted)
    prop = None if form.action.data == "remove" else form.property.data or None
    if form.action.data == "save" and prop is None:
        posted["errors"] = {"property": [_("Pick a CRM property to map, or remove the mapping.")]}
        return _field_page(field_id, status=400, posted=posted)
    try:
        result = save_mapping(page_runtime(), field_id, connection_id, prop, value_map if prop else {})
    except NotFoundError:
        raise
    except ServiceError as exc:
        posted["errors"] = exc.errors or {}
        return _field_page(field_id, status=exc.status, problem=exc, posted=posted)
    flash(_("The mapping is saved.") if prop else _("The field is no longer mapped on this connection."), "info")
    for warning in result["warnings"]:
        flash(warning, "warning")
    return redirect(url_for("admin_fields.field", field_id=field_id, _anchor=f"connection-{connection_id}"))
