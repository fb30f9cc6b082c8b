"""Admin pages of personas (/admin/personas): the list with each one's review state and a picker of the
persona templates; a persona's page with its criteria, a form for its name and weights, a form per criterion
to change or remove it and one to add a criterion (the same use case as PATCH /v1/personas/{id}), a "mark
reviewed" button and a preview of an example lead's score with the reasons (the API's POST /v1/score, nothing
stored)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError, fields, validate

from schemas.common import PageArgsSchema
from service.errors import InvalidInputError, NotFoundError, ServiceError
from service.services.persona_criteria import (
    add_criterion,
    persona_editor_page,
    remove_criterion,
    replace_criterion,
)
from service.services.persona_page import personas_overview, rename_and_reweigh
from service.services.personas import mark_reviewed
from service.services.templates import apply_template
from service.web.auth import admin_only
from service.web.blueprints import ID, page_blueprint, page_runtime
from service.web.errors import error_page
from service.web.forms import FromTemplateForm, PersonaEditForm, ReviewedForm, example_lead_form, example_values
from service.web.i18n import select_locale
from service.web.persona_forms import MATCHER_LABELS, NEW, CriterionForm, criterion_form, criterion_of, show_errors
from service.web.report_links import query_args

bp = page_blueprint("admin_personas", __name__, url_prefix="/admin")


class PersonaListArgs(PageArgsSchema):
    """A page of the persona list."""

    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


@bp.errorhandler(NotFoundError)
def no_such_persona(exc: NotFoundError) -> Response:
    """A persona id Qualify does not know: a 404 page that says so."""
    return error_page(404, _("There is no such persona"),
                      _("Qualify has no persona with this number: the link may be wrong, or the persona was removed."))


@bp.errorhandler(ValidationError)
def invalid_args(exc: ValidationError) -> Response:
    """A page number the list does not have."""
    return error_page(400, _("There is no such page of personas"), _("Page: a page number from 1."))


def _list_page(form: FromTemplateForm, status: int = 200) -> Any:
    args = query_args(PersonaListArgs())
    overview = personas_overview(page_runtime(), args["page"], args["page_size"])
    ru = select_locale() == "ru"
    form.template.choices = [(t["key"], t["title_ru"] if ru else t["title"]) for t in overview["templates"]]
    return render_template("admin/personas.html", overview=overview, form=form), status


@bp.get("/personas")
@admin_only
def personas() -> Any:
    """Every persona with its review state, and the templates to create one from."""
    return _list_page(FromTemplateForm())


@bp.post("/personas/from-template")
@admin_only
def from_template() -> Any:
    """Create a persona and the fields it needs from a persona template, then show it."""
    form = FromTemplateForm()
    form.template.validate_choice = False  # apply_template refuses an unknown template itself
    if not form.validate_on_submit():
        return _list_page(form, 400)
    try:
        result = apply_template(page_runtime(), {"template": form.template.data, "language": select_locale(),
                                             "field_prefix": form.field_prefix.data or ""})
    except ServiceError as exc:
        flash(_("The template was not applied: %(why)s", why=exc.detail), "warning")
        return _list_page(form, exc.status)
    created = result["personas"][0]
    flash(_("Persona “%(name)s” is created with %(fields)s new fields (%(reused)s existing fields reused). Every "
            "open deal is scored against it in the background.", name=created["name"],
            fields=len(result["fields_created"]), reused=len(result["fields_reused"])), "info")
    return redirect(url_for("admin_personas.persona", persona_id=created["id"]))


def _persona_page(persona_id: int, example: dict[str, Any] | None = None, edit: PersonaEditForm | None = None,
                  status: int = 200, posted: tuple[str, CriterionForm, list[str]] | None = None) -> Any:
    """The persona's page; `posted` is a criterion form sent back with its errors: (its prefix, the form, the
    errors that are about no input of it)."""
    page = persona_editor_page(page_runtime(), persona_id, select_locale(), example)
    persona = page["persona"]
    if edit is None:
        edit = PersonaEditForm(formdata=None, name=persona["name"], version=persona["version"],
                               weights=[c["weight"] for c in page["criteria"]])
    # The example lead's inputs show what was entered (the posted form) or start blank.
    lead = example_lead_form(page["fields"], **({} if example is not None else {"formdata": None}))
    editors = {f"c{n}-": criterion_form(page["all_fields"], f"c{n}-", c, persona["version"])
               for n, c in enumerate(persona["criteria"], start=1)}
    editors[NEW] = criterion_form(page["all_fields"], NEW, None, persona["version"], formdata=None)
    if posted is not None:
        editors[posted[0]] = posted[1]
    return render_template("admin/persona.html", page=page, persona=persona, edit=edit, lead=lead,
                           reviewed=ReviewedForm(), editors=editors, new=NEW, matcher_labels=MATCHER_LABELS,
                           posted=posted[0] if posted else None, problems=posted[2] if posted else []), status


@bp.get(f"/personas/<{ID}:persona_id>")
@admin_only
def persona(persona_id: int) -> Any:
    """A persona's criteria and review state, with the forms to change it and to score an example lead."""
    return _persona_page(persona_id)


@bp.post(f"/personas/<{ID}:persona_id>/preview")
@admin_only
def preview(persona_id: int) -> Any:
    """The score, grade and reasons of the example lead entered in the form (nothing is stored): values that
    do not fit their field are scored as unknown and named on the page."""
    return _persona_page(persona_id, example=example_values(request.form))


@bp.post(f"/personas/<{ID}:persona_id>")
@admin_only
def edit(persona_id: int) -> Any:
    """Save a new name and criterion weights as a new version of the persona."""
    form = PersonaEditForm()
    if not form.validate_on_submit():
        return _persona_page(persona_id, edit=form, status=400)
    try:
        rename_and_reweigh(page_runtime(), persona_id, form.version.data, form.name.data, form.weights.data)
    except NotFoundError:
        raise
    except ServiceError as exc:
        flash(_("Nothing was saved: %(why)s", why=exc.detail), "warning")
        return _persona_page(persona_id, edit=form, status=exc.status)
    flash(_("The persona is saved as a new version; open deals are scored again in the background."), "info")
    return redirect(url_for("admin_personas.persona", persona_id=persona_id))


@bp.post(f"/personas/<{ID}:persona_id>/reviewed")
@admin_only
def reviewed(persona_id: int) -> Any:
    """Record that the portrait was reviewed today: it is no longer stale and its reminder is re-armed."""
    ReviewedForm().validate_on_submit()  # the blueprint checked the CSRF token already
    mark_reviewed(page_runtime(), persona_id)
    flash(_("The persona is marked reviewed today."), "info")
    return redirect(url_for("admin_personas.persona", persona_id=persona_id))


def _save_criterion(persona_id: int, number: int | None) -> Any:
    """Add a criterion (`number` None) or save or remove criterion `number` (from 1) from the posted form;
    on a refusal the page shows the form again with the reasons by its inputs and nothing is saved."""
    prefix = NEW if number is None else f"c{number}-"
    current = persona_editor_page(page_runtime(), persona_id, select_locale())
    form = criterion_form(current["all_fields"], prefix)
    if not form.validate_on_submit():
        return _persona_page(persona_id, status=400, posted=(prefix, form, [_("The form could not be read.")]))
    removing = number is not None and request.form.get("action") == "remove"
    # Where the use case's errors about this criterion point: criteria.<index>.<key>.
    index = len(current["persona"]["criteria"]) if number is None else number - 1
    runtime, version = page_runtime(), form.version.data
    try:
        if number is None:
            saved = add_criterion(runtime, persona_id, version, criterion_of(form))
        elif removing:
            saved = remove_criterion(runtime, persona_id, version, index)
        else:
            saved = replace_criterion(runtime, persona_id, version, index, criterion_of(form))
    except NotFoundError:
        raise
    except InvalidInputError as exc:
        flash(_("Nothing was saved: the criterion is not valid; the reasons are next to its inputs."), "warning")
        problems = show_errors(form, exc.errors or {}, index)
        return _persona_page(persona_id, status=exc.status, posted=(prefix, form, problems))
    except ServiceError as exc:
        flash(_("Nothing was saved: %(why)s", why=exc.detail), "warning")
        return _persona_page(persona_id, status=exc.status, posted=(prefix, form, []))
    flash(_("The criterion is removed.") if removing else _("The criterion is saved."), "info")
    flash(_("The persona is saved as version %(version)s; open deals are scored again in the background.",
            version=saved["version"]), "info")
    return redirect(url_for("admin_personas.persona", persona_id=persona_id, _anchor="criteria"))


@bp.post(f"/personas/<{ID}:persona_id>/criteria")
@admin_only
def new_criterion(persona_id: int) -> Any:
    """Add the posted criterion to the persona as a new version."""
    return _save_criterion(persona_id, None)


@bp.post(f"/personas/<{ID}:persona_id>/criteria/<{ID}:number>")
@admin_only
def change_criterion(persona_id: int, number: int) -> Any:
    """Save the posted criterion in place of criterion `number` (from 1), or remove it (the button "remove"),
    as a new version of the persona."""
    return _save_criterion(persona_id, number)
