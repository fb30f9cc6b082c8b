"""`qualify config apply` on SQLite and PostgreSQL: a dry run stores nothing, apply is all-or-nothing even when the
database refuses one object, the plan counts the open deals a gate would block and carries the gate preview (open
deals and replayed moves, with the file's new fields), and the CLI prints the API's plan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text

from adapters.sandbox.hubspot import HubSpotSandbox
from service.cli import main
from service.db import Base, utcnow
from service.errors import InvalidInputError
from service.models import CrmUser, Record, Transition
from service.runtime import Runtime
from service.services.config_io.apply import apply_config
from service.services.config_io.document import ConfigFileError
from service.services.config_io.export import export_yaml
from service.services.connections import create_connection, refresh_pipelines
from tests.conftest import TEST_FERNET_KEY, make_key

TOKEN, SECRET = "pat-config-token", "config-client-secret"
CONFIG_TABLES = ("connections", "fields", "field_mappings", "personas", "persona_versions", "gates", "rescore_runs")
FILE = """
version: 1
connections:
- name: Portal
  kind: hubspot
  language: ru
  mappings:
  - {property: industry, field: industry}
  - {property: budget, field: budget}
fields:
- {key: budget, label: Budget, type: number, constraints: {min: 1000}}
- {key: industry, label: Industry, type: enum, constraints: {options: [retail, it]}}
personas:
- name: Retail
  criteria: [{field: industry, matcher: equals, value: retail}]
gates:
- connection: Portal
  pipeline: default
  stage: qualifiedtobuy
  mode: enforce
  requirements: [{field: industry}, {field: budget}]
- connection: Portal
  pipeline: default
  stage: presentationscheduled
  mode: warn
  description: boom
  requirements: [{field: budget}]
  persona_requirement: {persona: Retail, min_score: 40}
"""


@pytest.fixture
def portal(runtime: Runtime) -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox and a connection named Portal to it, its pipelines mirrored."""
    crm = HubSpotSandbox(client_secret=SECRET, access_token=TOKEN)
    crm.start()
    created = create_connection(runtime, {"name": "Portal", "kind": "hubspot", "base_url": crm.base_url,
                                          "access_token": TOKEN, "client_secret": SECRET}, "http://qualify")
    refresh_pipelines(runtime, created["id"], "http://qualify")
    yield crm
    crm.stop()


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the configuration tables, in primary-key order."""
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(Base.metadata.tables[t].select().order_by(
            *Base.metadata.tables[t].primary_key.columns))] for t in CONFIG_TABLES}


@pytest.mark.usefixtures("portal")
def test_given_a_dry_run_when_applying_then_every_row_stays_as_it_was(runtime: Runtime) -> None:
    apply_config(runtime, FILE.replace("description: boom", "description: first"), source="q.yaml", dry_run=False)
    before = rows(runtime.engine)
    changed = FILE.replace("language: ru", "language: en").replace("min: 1000", "min: 5").replace(
        "value: retail", "value: it").replace("mode: warn", "mode: audit")

    plan = apply_config(runtime, changed, source="q.yaml", dry_run=True)

    assert (plan["change"], plan["dry_run"], plan["applied"]) == (4, True, False), plan["lines"]
    assert rows(runtime.engine) == before


@pytest.fixture
def refusing_boom(engine: Engine, runtime: Runtime) -> Iterator[None]:
    """A trigger making the database itself refuse a gate described 'boom' (not a rule Qualify checks)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse_boom BEFORE INSERT ON gates WHEN NEW.description = 'boom' "
                              "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                              "IF NEW.description = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"))
            conn.execute(text("CREATE TRIGGER refuse_boom BEFORE INSERT ON gates FOR EACH ROW "
                              "EXECUTE FUNCTION refuse_boom()"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_boom" + ("" if engine.dialect.name == "sqlite" else " ON gates")))
        if engine.dialect.name != "sqlite":
            conn.execute(text("DROP FUNCTION refuse_boom()"))


@pytest.mark.usefixtures("portal", "refusing_boom")
def test_given_the_database_refusing_one_gate_when_applying_then_nothing_is_stored(runtime: Runtime) -> None:
    before = rows(runtime.engine)

    with pytest.raises(ConfigFileError) as refused:
        apply_config(runtime, FILE, source="q.yaml", dry_run=False)

    assert list(refused.value.errors or {}) == ["gates[1]"]
    assert refused.value.messages()[0].startswith("q.yaml:")
    assert "the database refused this gate" in refused.value.messages()[0]
    assert rows(runtime.engine) == before


@pytest.mark.usefixtures("portal")
def test_given_open_deals_when_planning_a_gate_then_the_plan_counts_those_it_would_block(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        connection_id = uow.session.scalar(text("SELECT id FROM connections"))
        for i, (stage, values) in enumerate([("appointmentscheduled", {"industry": "retail", "budget": 5000}),
                                             ("appointmentscheduled", {"industry": "retail"}),
                                             ("appointmentscheduled", {}),
                                             ("presentationscheduled", {})]):
            uow.session.add(Record(connection_id=connection_id, external_id=str(i), pipeline_external_id="default",
                                   stage_external_id=stage, values=values))
        uow.commit()

    plan = apply_config(runtime, FILE, source="q.yaml", dry_run=True)

    gate = next(c for c in plan["changes"] if c["name"] == "Portal/default/qualifiedtobuy")
    assert (gate["open_deals"], gate["would_stop"]) == (3, 2)
    assert "would block 2 of 3 open deals" in gate["note"]


@pytest.mark.usefixtures("portal")
def test_the_cli_prints_the_plan_the_api_returns_and_exports_the_same_file(
        runtime: Runtime, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"DATABASE_URL": runtime.engine.url.render_as_string(hide_password=False),
                        "SECRET_KEY": TEST_FERNET_KEY, "INSTANCE_PATH": str(tmp_path),
                        "ALLOW_LOOPBACK_CRM": "1"}.items():
        monkeypatch.setenv(f"QUALIFY_{name}", value)
    path = tmp_path / "qualify.yaml"
    path.write_text(FILE.replace("description: boom", "description: ok"))
    headers = {"Authorization": f"Bearer {make_key(runtime, 'admin')}", "Content-Type": "application/yaml"}

    api = client.post("/v1/config?dry_run=true&replay_days=30", data=path.read_bytes(), headers=headers).get_json()
    assert main(["config", "apply", str(path), "--dry-run", "--replay-days", "30"]) == 0
    cli = capsys.readouterr().out.splitlines()

    assert cli == api["lines"]
    assert "  moves of the last 30 days that would have been blocked: 0 of 0 allowed then (0 moves)" in cli
    with pytest.raises(SystemExit) as refused:
        main(["config", "apply", str(path), "--dry-run", "--replay-days", "731"])
    assert refused.value.code == 2 and "give 1 to 730 days" in capsys.readouterr().err
    assert main(["config", "apply", str(path)]) == 0
    capsys.readouterr()
    assert main(["config", "export"]) == 0
    assert capsys.readouterr().out == export_yaml(runtime)
    assert yaml.safe_load(export_yaml(runtime))["connections"][0]["language"] == "ru"


def test_given_a_bad_file_when_the_cli_applies_it_then_exit_1_listing_file_line_and_path(
        runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QUALIFY_DATABASE_URL", runtime.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("QUALIFY_SECRET_KEY", TEST_FERNET_KEY)
    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nfields:\n- key: a\n  label: A\n  type: texty\n  colour: red\n")

    assert main(["config", "apply", str(path), "--dry-run"]) == 1

    err = capsys.readouterr().err.splitlines()
    assert f"{path}:6: fields[0].colour: Unknown field." in err
    assert any(line.startswith(f"{path}:5: fields[0].type: ") for line in err), err


# The sandbox's default pipeline, its open stages in order; FILE's gates (all enforced by the preview; the persona
# requirement is not evaluated): the fields each stage asks for, and what makes a value fail (missing, or budget
# under the file's new min 1000).
STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]
FILE_GATES = {"qualifiedtobuy": ["industry", "budget"], "presentationscheduled": ["budget"]}


def failing(source: str | None, target: str, values: dict[str, Any]) -> set[str]:
    """The model: a move passes the gates of every stage after its source (from the first, without one) up to its
    target; each required field missing, or a budget under 1000, blocks it."""
    start = STAGES.index(source) + 1 if source is not None else 0
    asked = {f for stage in STAGES[start:STAGES.index(target) + 1] for f in FILE_GATES.get(stage, [])}
    return {f for f in asked if values.get(f) is None or (f == "budget" and values[f] < 1000)}


@pytest.fixture
def history(runtime: Runtime, portal: HubSpotSandbox) -> dict[str, Any]:
    """Open deals in the first two stages in every mix of industry (set or not) and budget (fine, too low, none),
    one further on; each moved once into a gated stage 5 or 40 days ago by one of three owners, blocked then or
    not, some with industry reported missing then; one move into an ungated stage."""
    deals, moves = [], []
    now = utcnow()
    with runtime.uow() as uow:
        session = uow.session
        cid = session.scalar(text("SELECT id FROM connections"))
        session.add(CrmUser(connection_id=cid, external_id="901", user_id="901", name="Alice Owner"))
        for i, (stage, industry, budget) in enumerate(product(STAGES[:2], ("retail", None), (5000, 500, None))):
            deals.append({"id": f"d{i}", "stage": stage, "values": {"industry": industry, "budget": budget}})
        deals.append({"id": "far", "stage": "decisionmakerboughtin", "values": {}})
        rows = {d["id"]: Record(connection_id=cid, external_id=d["id"], kind="deal", pipeline_external_id="default",
                                stage_external_id=d["stage"], values=d["values"], version=1) for d in deals}
        session.add_all(rows.values())
        session.flush()
        for i, deal in enumerate(deals[:-1]):
            target = ("qualifiedtobuy", "presentationscheduled")[i % 2]
            move = {"deal": deal, "target": target, "source": None if i % 4 == 0 else STAGES[STAGES.index(target) - 1],
                    "owner": ("901", "902", None)[i % 3], "blocked": i % 5 == 0, "industry_then": i % 3 != 1,
                    "days_ago": 40 if i % 6 == 5 else 5}
            moves.append(move)
            issues = [] if move["industry_then"] else [{"field": "industry", "reason": "missing", "stage": target,
                                                        "mode": "audit", "message": "Industry is missing"}]
            session.add(Transition(
                connection_id=cid, record_id=rows[deal["id"]].id, from_pipeline="default" if move["source"] else None,
                from_stage=move["source"], to_pipeline="default", to_stage=target, owner_id=move["owner"],
                occurred_at=now - timedelta(days=move["days_ago"]), source="webhook", direction="forward",
                decision="blocked" if move["blocked"] else "allowed", issues=issues, mover_kind="ui"))
        session.add(Transition(connection_id=cid, record_id=rows["d0"].id, to_pipeline="default",
                               to_stage="contractsent", occurred_at=now - timedelta(days=1), owner_id="901",
                               source="webhook", direction="forward", decision="allowed", issues=[], mover_kind="ui"))
        uow.commit()
    return {"deals": deals, "moves": moves}


def test_given_deals_and_moves_when_planning_new_gates_then_the_plan_carries_their_preview(
        runtime: Runtime, history: dict[str, Any]) -> None:
    plan = apply_config(runtime, FILE, source="q.yaml", dry_run=True, replay_days=30)

    [preview] = plan["previews"]
    assert preview["connection"] == "Portal"
    stages = {s["stage"]: s for s in preview["open_deals"]["stages"]}
    assert {stage: s["mode"] for stage, s in stages.items()} == {"qualifiedtobuy": "enforce",
                                                                 "presentationscheduled": "warn"}
    for target in FILE_GATES:
        checked = [d for d in history["deals"] if STAGES.index(d["stage"]) < STAGES.index(target)]
        fails = [failing(d["stage"], target, d["values"]) for d in checked]
        missing = Counter(f for found in fails for f in found)
        got = stages[target]
        assert (got["would_block"], got["of"]) == (sum(1 for found in fails if found), len(checked)), target
        assert {m["field"]: m["deals"] for m in got["missing"]} == missing
        gate = next(c for c in plan["changes"] if c["name"] == f"Portal/default/{target}")
        assert (gate["open_deals"], gate["would_stop"]) == (got["of"], got["would_block"])
    replayed = [m for m in history["moves"] if m["days_ago"] < 30]
    allowed = [m for m in replayed if not m["blocked"]]
    blocked = [m for m in allowed if failing(m["source"], m["target"], {
        **m["deal"]["values"], **({} if m["industry_then"] else {"industry": None})})]
    replay = preview["replay"]
    assert (replay["days"], replay["moves"], replay["allowed_then"], replay["would_block"]) == (
        30, len(replayed), len(allowed), len(blocked))
    assert 0 < replay["would_block"] < replay["allowed_then"] < replay["moves"]
    assert {(o["owner_id"], o["owner_name"], o["moves"], o["would_block"]) for o in replay["by_owner"]} == {
        (owner, "Alice Owner" if owner == "901" else None, n, Counter(m["owner"] for m in blocked)[owner])
        for owner, n in Counter(m["owner"] for m in replayed).items()}
    assert {s["stage"]: (s["moves"], s["would_block"]) for s in replay["by_stage"]} == {
        target: (sum(1 for m in replayed if m["target"] == target), sum(1 for m in blocked if m["target"] == target))
        for target in FILE_GATES}
    assert f"  moves of the last 30 days that would have been blocked: {len(blocked)} of {len(allowed)} allowed " \
           f"then ({len(replayed)} moves)" in plan["lines"]


def test_given_replay_days_out_of_bounds_when_planning_then_it_is_refused(runtime: Runtime) -> None:
    for days in (0, 731):
        with pytest.raises(InvalidInputError) as refused:
            apply_config(runtime, FILE, source="q.yaml", dry_run=True, replay_days=days)
        assert "replay_days" in (refused.value.errors or {})


@pytest.mark.usefixtures("portal")
def test_given_a_gate_left_on_a_stage_the_crm_archived_then_other_gates_still_plan_and_apply(
        runtime: Runtime) -> None:
    apply_config(runtime, FILE, source="q.yaml", dry_run=False)
    with runtime.uow() as uow:  # the CRM archived the stage of the second gate; its gate row stays
        uow.session.execute(text("UPDATE stages SET archived = :yes WHERE external_id = 'presentationscheduled'"),
                            {"yes": True})
        uow.commit()
    changed = FILE.replace("  mode: enforce\n", "  mode: warn\n", 1)

    plan = apply_config(runtime, changed, source="q.yaml", dry_run=False)

    (preview,) = plan["previews"]
    assert [s["stage"] for s in preview["open_deals"]["stages"]] == ["qualifiedtobuy"]  # the archived one left out
    assert [c["name"] for c in plan["changes"] if c["kind"] == "gate"] == ["Portal/default/qualifiedtobuy"]
    assert export_yaml(runtime).count("mode: warn") == 2  # applied: both gates warn now
