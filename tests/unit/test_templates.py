"""Built-in templates (service.domain.templates): valid fields, personas and cumulative framework gates."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Any

import pytest

from schemas.fields import FieldInSchema
from schemas.gates import RequirementSchema
from service.domain.errors import DomainError
from service.domain.fieldtypes import FieldSpec
from service.domain.specs import validate_spec
from service.domain.templates import (
    GATE_STAGES,
    TemplateError,
    TemplatePlan,
    expand_template,
    list_templates,
)
from service.models import Field
from service.services.fields import _clean_constraints
from service.services.stored_config import field_spec

PERSONA_TEMPLATES = ("customer-portrait", "b2b-icp")
GATE_TEMPLATES = ("bant", "champ", "meddpicc", "gpctba-ci", "spiced")
ALL_TEMPLATES = PERSONA_TEMPLATES + GATE_TEMPLATES
FORWARD = ("qualified", "discovery", "proposal", "negotiation")

# Scoring reference, section 4: what each framework ADDS at each logical stage (then cumulative).
# "(all confirmed)" adds nothing; "lost" needs only the loss reason.
SECTION_4_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "bant": {"qualified": ("need", "authority"), "discovery": ("budget",), "proposal": ("timeline",),
             "negotiation": ()},
    "champ": {"qualified": ("challenges", "authority"), "discovery": ("budget",),  # Money
              "proposal": ("priority",), "negotiation": ()},
    "meddpicc": {"qualified": ("pain", "metrics", "champion"), "discovery": ("economic_buyer", "decision_criteria"),
                 "proposal": ("decision_process", "competition"),
                 "negotiation": ("paper_process", "champion_confirmed_on")},
    "gpctba-ci": {"qualified": ("goals", "plans", "challenges"), "discovery": ("timeline", "budget", "authority"),
                  "proposal": ("consequences", "implications"), "negotiation": ()},
    # Not in the table: derived in deal_frameworks.py by analogy with the other rows.
    "spiced": {"qualified": ("situation", "pain"), "discovery": ("impact",),
               "proposal": ("critical_event", "decision"), "negotiation": ()},
}

MATCHERS_BY_TYPE = {
    "enum": {"equals", "in"},
    "text": {"equals", "in", "regex"}, "email": {"equals", "in", "regex"},
    "phone": {"equals", "in", "regex"}, "url": {"equals", "in", "regex"},
    "number": {"range", "equals"}, "integer": {"range", "equals"}, "money": {"range", "equals"},
    "date": {"range"},
    "multi_enum": {"contains_any", "contains_all"},
    "boolean": {"boolean"},
}
CRITERION_KEYS = {"field", "matcher", "kind", "weight", "value", "values", "min", "max", "soft_margin", "unit",
                  "pattern", "blank_is_value"}


def service_spec(body: dict[str, Any]) -> FieldSpec:
    """The FieldSpec the service builds from a POST /v1/fields body (schema load, clean, row, field_spec)."""
    data = FieldInSchema().load(body)
    row = Field(**{**data, "constraints": _clean_constraints(data.get("constraints") or {})})
    return field_spec(row)


def specs_of(plan: TemplatePlan) -> dict[str, FieldSpec]:
    return {f["key"]: service_spec(f) for f in plan.fields}


def required_keys(gate: dict[str, Any]) -> list[str]:
    return [item["field"] for item in gate["required"]]


# --- registry ---------------------------------------------------------------------------------------

def test_list_templates_describes_every_template() -> None:
    infos = {i.key: i for i in list_templates()}
    assert tuple(infos) == ALL_TEMPLATES
    for key in PERSONA_TEMPLATES:
        assert infos[key].kind == "persona" and infos[key].stages == ()
    for key in GATE_TEMPLATES:
        assert infos[key].kind == "gates" and infos[key].stages == GATE_STAGES == (*FORWARD, "lost")
    for info in infos.values():
        assert info.title and info.title_ru and info.description


def test_unknown_key_is_a_domain_error_listing_the_known_keys() -> None:
    with pytest.raises(TemplateError) as caught:
        expand_template("spin-selling")
    assert isinstance(caught.value, DomainError)
    for key in ALL_TEMPLATES:
        assert key in str(caught.value)
        assert key in caught.value.errors["key"][0]


# --- fields ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "acme_"])
@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("key", ALL_TEMPLATES)
def test_fields_are_valid_post_bodies_and_valid_specs(key: str, language: str, prefix: str) -> None:
    plan = expand_template(key, language=language, field_prefix=prefix)
    keys = [f["key"] for f in plan.fields]
    assert len(keys) == len(set(keys))
    for body in plan.fields:
        spec = service_spec(body)
        validate_spec(spec)
        assert isinstance(body["label_ru"], str) and body["label_ru"].strip()
        assert body["group"] is not None
        assert "unknown" not in body["constraints"].get("options", [])  # a placeholder: would count as missing


def test_a_key_shared_by_templates_has_one_definition() -> None:
    for language in ("en", "ru"):
        seen: dict[str, tuple[str, dict[str, Any]]] = {}
        for key in ALL_TEMPLATES:
            for body in expand_template(key, language=language).fields:
                first = seen.setdefault(body["key"], (key, body))
                assert first[1] == body, f"{body['key']} differs between {first[0]} and {key}"
    shared = {"budget", "authority", "timeline", "challenges", "pain", "loss_reason"}
    assert shared <= set(seen)


# --- gates --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "x_"])
@pytest.mark.parametrize("key", GATE_TEMPLATES)
def test_gates_are_cumulative_and_reference_only_plan_fields(key: str, prefix: str) -> None:
    plan = expand_template(key, field_prefix=prefix)
    plan_keys = {f["key"] for f in plan.fields}
    assert [g["logical_stage"] for g in plan.gates] == list(GATE_STAGES)
    for gate in plan.gates:
        items = [RequirementSchema().load(item) for item in gate["required"]]
        assert items and all(i["required_if"] is None for i in items)
        assert set(required_keys(gate)) <= plan_keys
        assert len(required_keys(gate)) == len(set(required_keys(gate)))
        assert gate["description"]
    forward = [set(required_keys(g)) for g in plan.gates[:-1]]
    for earlier, later in itertools.pairwise(forward):
        assert earlier <= later
    assert required_keys(plan.gates[-1]) == [prefix + "loss_reason"]
    used = set().union(*forward) | {prefix + "loss_reason"}
    assert used == plan_keys  # every framework field is asked for somewhere


@pytest.mark.parametrize("key", GATE_TEMPLATES)
def test_stage_mapping_equals_the_section_4_table(key: str) -> None:
    gates = {g["logical_stage"]: required_keys(g) for g in expand_template(key).gates}
    expected: list[str] = []
    for stage in FORWARD:
        expected += SECTION_4_TABLE[key][stage]
        assert gates[stage] == expected, stage
    assert gates["lost"] == ["loss_reason"]


def test_negotiation_notes_all_confirmed_and_descriptions_follow_the_language() -> None:
    en = {g["logical_stage"]: g["description"] for g in expand_template("bant").gates}
    ru = {g["logical_stage"]: g["description"] for g in expand_template("bant", language="ru-RU").gates}
    assert "confirmed" in en["negotiation"] and "Need" in en["qualified"]
    assert "подтверждены" in ru["negotiation"] and "Потребность" in ru["qualified"]


def test_persona_templates_have_no_gates() -> None:
    for key in PERSONA_TEMPLATES:
        assert expand_template(key).gates == ()


# --- personas ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "acme_"])
@pytest.mark.parametrize("key", PERSONA_TEMPLATES)
def test_persona_criteria_reference_plan_fields_with_valid_matchers(key: str, prefix: str) -> None:
    plan = expand_template(key, field_prefix=prefix)
    specs = specs_of(plan)
    assert len(plan.personas) == 1
    for persona in plan.personas:
        assert persona["ring"] == "core" and persona["review_interval_days"] == 182
        assert persona["name"] and persona["segment"] and len(persona["description"]) > 200
        kinds = {c["kind"] for c in persona["criteria"]}
        assert {"must", "nice", "disqualifier"} <= kinds
        for c in persona["criteria"]:
            assert set(c) <= CRITERION_KEYS
            spec = specs[c["field"]]
            assert c["matcher"] in MATCHERS_BY_TYPE[spec.type.value], c
            if c["kind"] != "disqualifier":
                assert 0 < c["weight"] <= 100
            if c.get("values"):
                assert set(c["values"]) <= set(spec.constraints.options), c
            if c["matcher"] == "equals" and spec.constraints.options:
                assert c["value"] in spec.constraints.options
            if c["matcher"] == "range":
                assert c.get("min") is not None or c.get("max") is not None


@pytest.mark.parametrize("key", PERSONA_TEMPLATES)
def test_persona_criteria_parse_with_the_persona_domain(key: str) -> None:
    personas = pytest.importorskip("service.domain.personas")
    for prefix in ("", "acme_"):
        plan = expand_template(key, field_prefix=prefix)
        specs = specs_of(plan)
        for persona in plan.personas:
            parsed = personas.parse_criteria(persona["criteria"], specs)
            assert len(parsed) == len(persona["criteria"])
            assert [personas.criterion_to_dict(c)["field"] for c in parsed] == [c["field"] for c in persona["criteria"]]


@pytest.mark.parametrize("key", PERSONA_TEMPLATES)
def test_persona_is_a_valid_persona_body(key: str) -> None:
    schema = pytest.importorskip("schemas.personas")
    for persona in expand_template(key, language="ru").personas:
        schema.PersonaInSchema().load(persona)


def test_persona_texts_follow_the_language() -> None:
    en = expand_template("customer-portrait").personas[0]
    ru = expand_template("customer-portrait", language="ru").personas[0]
    assert en["description"].startswith("Natalia, 30, accountant")
    assert ru["description"].startswith("Наталья, 30 лет, бухгалтер")
    assert en["criteria"] == ru["criteria"]


# --- prefix and purity ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ALL_TEMPLATES)
def test_field_prefix_is_applied_everywhere_consistently(key: str) -> None:
    plain, prefixed = expand_template(key), expand_template(key, field_prefix="acme_")

    def unprefix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v.removeprefix("acme_") if k in ("key", "field") else unprefix(v)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [unprefix(v) for v in value]
        return value

    for body in prefixed.fields:
        assert body["key"].startswith("acme_")
    for item in [c for p in prefixed.personas for c in p["criteria"]] + [r for g in prefixed.gates
                                                                          for r in g["required"]]:
        assert item["field"].startswith("acme_")
    assert unprefix(prefixed.fields) == unprefix(plain.fields)
    assert unprefix(prefixed.personas) == unprefix(plain.personas)
    assert unprefix(prefixed.gates) == unprefix(plain.gates)


@pytest.mark.parametrize("prefix", ["Acme_", "1x_", "acme-", "a" * 60, 5])
def test_a_prefix_that_breaks_keys_is_refused(prefix: Any) -> None:
    with pytest.raises(TemplateError) as caught:
        expand_template("meddpicc", field_prefix=prefix)
    assert "field_prefix" in caught.value.errors


def test_every_call_returns_fresh_data() -> None:
    plan = expand_template("customer-portrait")
    plan.fields[0]["constraints"]["min_length"] = 999
    plan.personas[0]["criteria"][0]["field"] = "changed"
    again = expand_template("customer-portrait")
    assert again.fields[0]["constraints"]["min_length"] != 999
    assert again.personas[0]["criteria"][0]["field"] != "changed"


TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "service" / "domain" / "templates"
PURE_IMPORTS = {"__future__", "collections", "collections.abc", "dataclasses", "enum", "re", "typing"}


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_template_modules_are_pure_small_and_documented(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    module = ast.parse(source)
    assert len(source.splitlines()) < 300
    assert ast.get_docstring(module)
    for node in ast.walk(module):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert all(n in PURE_IMPORTS or n.startswith("service.domain") for n in names), names
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            assert ast.get_docstring(node), node.name
