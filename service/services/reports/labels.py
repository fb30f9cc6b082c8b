"""Names for what the report's SQL groups by: pipelines and stages (their labels and order), owners (the CRM
users' names), personas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import CrmUser, Persona, Pipeline, Stage


@dataclass
class Labels:
    """Lookups from the ids a report groups by to what a person reads."""

    stages: dict[tuple[int, str | None, str], dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[tuple[int, str], str] = field(default_factory=dict)
    people: dict[tuple[int, str], str] = field(default_factory=dict)
    personas: dict[int, str] = field(default_factory=dict)

    def stage(self, connection_id: int, pipeline: str | None, stage: str) -> dict[str, Any]:
        """Label, kind and position of a stage among its pipeline's open and won stages (None when lost or
        not mirrored)."""
        return self.stages.get((connection_id, pipeline, stage)) or {"label": stage, "kind": "open", "position": None,
                                                                     "order": 0}

    def pipeline(self, connection_id: int, pipeline: str | None) -> str:
        """A pipeline's label, or its id when not mirrored."""
        return self.pipelines.get((connection_id, pipeline or ""), pipeline or "")

    def person(self, connection_id: int | None, owner: str | None) -> str:
        """An owner's name (any connection's user of that id when the connection is not known), or the id."""
        if owner is None:
            return "—"
        if connection_id is not None and (connection_id, owner) in self.people:
            return self.people[(connection_id, owner)]
        return next((name for (_, uid), name in self.people.items() if uid == owner), owner)

    def open_stages(self, connection_id: int, pipeline: str) -> list[tuple[str, str]]:
        """(stage id, label) of a pipeline's open and won stages in order."""
        found = [(v["position"], stage, v["label"]) for (cid, pid, stage), v in self.stages.items()
                 if cid == connection_id and pid == pipeline and v["position"] is not None]
        return [(stage, label) for _, stage, label in sorted(found)]


def load_labels(session: Session, connection_id: int | None) -> Labels:
    """Every label a report may need (of one connection, or all)."""
    labels = Labels()
    pipelines = select(Pipeline.connection_id, Pipeline.external_id, Pipeline.label, Pipeline.id)
    users = select(CrmUser.connection_id, CrmUser.external_id, CrmUser.name)
    if connection_id is not None:
        pipelines = pipelines.where(Pipeline.connection_id == connection_id)
        users = users.where(CrmUser.connection_id == connection_id)
    ids = {}
    for cid, external, label, pid in session.execute(pipelines):
        labels.pipelines[(cid, external)] = label
        ids[pid] = (cid, external)
    stages = session.execute(select(Stage.pipeline_id, Stage.external_id, Stage.label, Stage.kind, Stage.order)
                             .where(Stage.pipeline_id.in_(list(ids)), Stage.archived.is_(False))
                             .order_by(Stage.pipeline_id, Stage.order)).all()
    position: dict[int, int] = {}
    for pid, external, label, kind, order in stages:
        cid, pipeline = ids[pid]
        place = None
        if kind != "lost":
            place = position[pid] = position.get(pid, -1) + 1
        labels.stages[(cid, pipeline, external)] = {"label": label, "kind": kind, "position": place, "order": order}
    labels.people = {(cid, external): name for cid, external, name in session.execute(users)}
    labels.personas = dict(session.execute(select(Persona.id, Persona.name)).all())
    return labels
