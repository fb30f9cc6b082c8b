"""The criteria editor of a persona's admin page: an admin adds a criterion, changes one's matcher, values and
kind, removes one, without writing JSON; a value the field does not take, a weight out of range, a matcher the
field's type does not allow or an unknown field is refused with the reason next to the input and nothing is
saved (checked through the persona use case the API uses); managers, stale forms and forms without a CSRF
token are refused; the editor speaks Russian."""
# ruff: noqa: RUF001

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from service.services.personas import create_persona, get_persona
from tests.conftest import make_key
from tests.e2e.browser import team as plan
from tests.e2e.browser.conftest import Web, new_page, shot, sign_in
from tests.e2e.browser.test_pages_http import signed_in_client

CSRF = re.compile(r'name="([a-z0-9-]*csrf_token)" (?:type="hidden" )?value="([^"]+)"')
RETAIL = {"field": "industry", "matcher": "in", "values": ["retail"]}
MID_SIZE = {"field": "company_size", "matcher": "range", "min": 100, "max": 5000}
_numbers = itertools.count(1)


def _persona(web: Web, *criteria: dict[str, Any]) -> dict[str, Any]:
    """A new persona of its own (the team's personas are left to the other tests) with `criteria`."""
    return create_persona(web.runtime, {"name": f"Editor persona {next(_numbers)}", "criteria": list(criteria)})


def _open(page: Any, web: Web, persona_id: int) -> Any:
    sign_in(page, web.key("admin"))
    page.goto(f"/admin/personas/{persona_id}")
    return page


def _editor(page: Any, box: str) -> Any:
    """The criterion editor `box` (#criterion-<n> or #new-criterion), opened."""
    details = page.locator(box)
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


def _submit(page: Any, button: Any) -> int:
    """Press a form's button; the status of the answer to its POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        button.click()
    page.wait_for_load_state()
    status: int = posted.value.status
    return status


def test_given_a_persona_when_the_admin_adds_a_criterion_then_it_is_saved_as_a_new_version(
        page: Any, web: Web, team: plan.Team) -> None:
    before = _persona(web, RETAIL)
    _open(page, web, before["id"])
    new = _editor(page, "#new-criterion")
    new.get_by_label("Field", exact=True).select_option(value="decision_maker")
    new.get_by_label("Matches when the value", exact=True).select_option(label="is yes or no")
    new.get_by_label("Kind", exact=True).select_option(label="must have")
    new.get_by_label("Values, one a line", exact=True).fill("yes")
    new.get_by_label("Weight", exact=True).fill("2,5")
    assert _submit(page, new.get_by_role("button", name="Add this criterion")) == 302
    after = get_persona(web.runtime, before["id"])
    assert after["version"] == before["version"] + 1
    assert after["criteria"] == [*before["criteria"], {"field": "decision_maker", "matcher": "boolean",
                                                       "kind": "must", "value": True, "weight": 2.5}]
    assert page.locator("#criteria-table tbody tr").count() == len(after["criteria"])
    assert "is yes" in page.locator("#criteria-table tbody tr").nth(1).inner_text()
    assert f"saved as version {after['version']}" in page.locator(".flash").all_inner_texts()[-1]
    shot(page, "admin-persona-criterion-added", full_page=True)


def test_given_a_criterion_when_the_admin_changes_its_matcher_values_and_kind_then_the_new_rule_is_stored(
        page: Any, web: Web, team: plan.Team) -> None:
    before = _persona(web, RETAIL, MID_SIZE)
    _open(page, web, before["id"])
    first = _editor(page, "#criterion-1")
    assert first.get_by_label("Values, one a line", exact=True).input_value() == "retail"
    first.get_by_label("Matches when the value", exact=True).select_option(label="is")
    first.get_by_label("Values, one a line", exact=True).fill("manufacturing")
    first.get_by_label("Kind", exact=True).select_option(label="rules out")
    assert _submit(page, first.get_by_role("button", name="Save this criterion")) == 302
    second = _editor(page, "#criterion-2")
    assert second.get_by_label("Range from", exact=True).input_value() == str(MID_SIZE["min"])
    second.get_by_label("Range from", exact=True).fill("10")
    second.get_by_label("Range to", exact=True).fill("50")
    second.get_by_label("Partly up to this far outside", exact=True).fill("5")
    assert _submit(page, second.get_by_role("button", name="Save this criterion")) == 302
    after = get_persona(web.runtime, before["id"])
    assert after["version"] == before["version"] + 2
    assert after["criteria"] == [
        {"field": "industry", "matcher": "equals", "kind": "disqualifier", "value": "manufacturing"},
        {**MID_SIZE, "min": 10, "max": 50, "soft_margin": 5}]
    rows = page.locator("#criteria-table tbody tr")
    assert "is manufacturing" in rows.nth(0).inner_text()
    assert "from 10 to 50" in rows.nth(1).inner_text()


def test_given_two_criteria_when_the_admin_removes_the_first_then_only_the_second_is_left(
        page: Any, web: Web, team: plan.Team) -> None:
    before = _persona(web, RETAIL, MID_SIZE)
    _open(page, web, before["id"])
    first = _editor(page, "#criterion-1")
    assert _submit(page, first.get_by_role("button", name="Remove this criterion")) == 302
    after = get_persona(web.runtime, before["id"])
    assert after["version"] == before["version"] + 1
    assert after["criteria"] == before["criteria"][1:]
    assert page.locator("#criteria-table tbody tr").count() == 1
    assert page.locator(".flash").first.inner_text() == "The criterion is removed."


@pytest.mark.parametrize(("matcher", "values", "weight", "box", "label", "message"), [
    ("is one of", "retail\nwholesale", "1", "#criterion-1", "Values, one a line",
     "wholesale is not one of the field's options."),
    ("is one of", "retail", "101", "#criterion-1", "Weight", "A weight is more than 0 and at most 100."),
    ("is in a range", "", "1", "#criterion-1", "Matches when the value",
     "“is in a range” does not fit a field of this type; use “is”, “is one of”."),
    ("is", "lots", "1", "#criterion-2", "Values, one a line", "Enter a number, such as 10 or 2.5."),
])
def test_given_a_bad_criterion_then_the_reason_shows_at_its_input_and_nothing_is_saved(
        page: Any, web: Web, team: plan.Team, matcher: str, values: str, weight: str, box: str, label: str,
        message: str) -> None:
    before = _persona(web, RETAIL, MID_SIZE)
    _open(page, web, before["id"])
    editor = _editor(page, box)
    editor.get_by_label("Matches when the value", exact=True).select_option(label=matcher)
    editor.get_by_label("Values, one a line", exact=True).fill(values)
    for bound in ("Range from", "Range to"):
        editor.get_by_label(bound, exact=True).fill("")
    editor.get_by_label("Weight", exact=True).fill(weight)
    assert _submit(page, editor.get_by_role("button", name="Save this criterion")) == 422
    assert get_persona(web.runtime, before["id"]) == before
    editor = page.locator(box)
    assert editor.get_attribute("open") is not None
    shown = editor.locator("p.field.invalid", has=page.get_by_label(label, exact=True))
    assert shown.locator(".error").inner_text() == message
    assert editor.get_by_label("Weight", exact=True).input_value() == weight  # what was entered stays for a correction
    assert "Nothing was saved" in page.locator(".flash").inner_text()


def test_given_russian_chosen_then_the_criteria_editor_and_its_errors_are_russian(
        browser: Any, web: Web, team: plan.Team) -> None:
    before = _persona(web, RETAIL)
    page = new_page(browser, web)
    try:
        sign_in(page, web.key("admin"))
        page.get_by_role("button", name="Русский").click()
        page.goto(f"/admin/personas/{before['id']}")
        assert page.locator("#criteria-editor h2").inner_text() == "Изменить, добавить или удалить критерий"
        new = _editor(page, "#new-criterion")
        assert new.locator("summary").inner_text() == "Добавить критерий"
        new.get_by_label("Поле", exact=True).select_option(value="company_size")
        new.get_by_label("Совпадает, когда значение", exact=True).select_option(label="в диапазоне")
        new.get_by_label("Диапазон от", exact=True).fill("10")
        new.get_by_label("Вес", exact=True).fill("0")
        assert _submit(page, new.get_by_role("button", name="Добавить этот критерий")) == 422
        assert page.locator("#new-criterion .error").inner_text() == "Вес — больше 0 и не больше 100."
        assert get_persona(web.runtime, before["id"]) == before
        shot(page, "admin-persona-editor-ru", full_page=True)
    finally:
        page.context.close()


# Over Flask's test client (no browser): the guards of the editor's forms.

def _form(client: Any, persona: dict[str, Any], prefix: str, **inputs: str) -> dict[str, str]:
    """The posted inputs of the criterion form `prefix` (its CSRF token read from the page)."""
    tokens = dict(CSRF.findall(client.get(f"/admin/personas/{persona['id']}").get_data(as_text=True)))
    return {f"{prefix}csrf_token": tokens[f"{prefix}csrf_token"], f"{prefix}version": str(persona["version"]),
            **{prefix + name: value for name, value in inputs.items()}}


def test_given_an_unknown_field_then_it_is_named_and_nothing_is_saved(web_admin: Any, web: Web,
                                                                      team: plan.Team) -> None:
    before = _persona(web, RETAIL)
    form = _form(web_admin, before, "new-", field="headcount", matcher="in", values="retail", weight="1")
    answer = web_admin.post(f"/admin/personas/{before['id']}/criteria", data=form)
    assert answer.status_code == 422
    assert "There is no field headcount." in answer.get_data(as_text=True)
    assert get_persona(web.runtime, before["id"]) == before


def test_given_a_stale_or_tokenless_form_or_a_manager_then_refused_and_nothing_is_saved(
        web_app: Any, web_admin: Any, web: Web, team: plan.Team) -> None:
    before = _persona(web, RETAIL, MID_SIZE)
    path = f"/admin/personas/{before['id']}/criteria/1"
    form = _form(web_admin, before, "c1-", field="industry", matcher="in", values="other", kind="nice", weight="1")
    stale = web_admin.post(path, data={**form, "c1-version": str(before["version"] - 1)})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.get_data(as_text=True)
    no_token = web_admin.post(path, data={k: v for k, v in form.items() if not k.endswith("csrf_token")})
    assert no_token.status_code == 400
    manager = signed_in_client(web_app, make_key(web.runtime, "manager"))
    token = CSRF.search(manager.get("/").get_data(as_text=True))
    assert token
    for target in (path, f"/admin/personas/{before['id']}/criteria"):
        assert manager.post(target, data={**form, "csrf_token": token.group(2)}).status_code == 403, target
    third = {name.replace("c1-", "c3-"): value for name, value in form.items()}  # a criterion it does not have
    missing = web_admin.post(f"/admin/personas/{before['id']}/criteria/3", data={**third, "action": "remove"})
    assert missing.status_code == 409
    assert get_persona(web.runtime, before["id"]) == before
    assert web_admin.post(path, data=form).status_code == 302
    assert get_persona(web.runtime, before["id"])["criteria"][0] == {**RETAIL, "values": ["other"]}


def test_given_the_empty_value_as_a_value_then_resaving_the_criterion_keeps_it(web_admin: Any, web: Web,
                                                                             team: plan.Team) -> None:
    blank_or_retail = {**RETAIL, "values": ["", "retail"], "blank_is_value": True}
    before = _persona(web, blank_or_retail)
    # The values box as the page fills it: the empty value is its blank first line.
    form = _form(web_admin, before, "c1-", field="industry", matcher="in", values="\nretail", kind="nice",
                 weight="2", blank_is_value="y")

    assert web_admin.post(f"/admin/personas/{before['id']}/criteria/1", data=form).status_code == 302

    (saved,) = get_persona(web.runtime, before["id"])["criteria"]
    assert (saved["values"], saved["blank_is_value"], saved["weight"]) == (["", "retail"], True, 2)
