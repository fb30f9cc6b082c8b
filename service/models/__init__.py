"""SQLAlchemy 2 typed ORM models, one module per aggregate; importing this registers them all."""

from service.models.analytics import AnalyticsRun, Customer, CustomerSegment, Purchase, WinModel
from service.models.connections import Connection, FieldMapping, Pipeline, Stage
from service.models.events import InboundEvent, WebhookDelivery, WebhookRejection
from service.models.fields import Field
from service.models.gates import Gate
from service.models.heartbeats import WorkerHeartbeat
from service.models.keys import ApiKey
from service.models.limits import RateLimitState
from service.models.outbox import ExpectedRevert, OutboxAction
from service.models.people import CrmUser
from service.models.personas import Persona, PersonaVersion, RecordScore, RescoreRun
from service.models.records import Record, Transition
from service.models.statuses import ActionStatus, EventStatus, RunStatus
from service.models.sync import SyncRun

__all__ = [
    "ActionStatus",
    "AnalyticsRun",
    "ApiKey",
    "Connection",
    "CrmUser",
    "Customer",
    "CustomerSegment",
    "EventStatus",
    "ExpectedRevert",
    "Field",
    "FieldMapping",
    "Gate",
    "InboundEvent",
    "OutboxAction",
    "Persona",
    "PersonaVersion",
    "Pipeline",
    "Purchase",
    "RateLimitState",
    "Record",
    "RecordScore",
    "RescoreRun",
    "RunStatus",
    "Stage",
    "SyncRun",
    "Transition",
    "WebhookDelivery",
    "WebhookRejection",
    "WinModel",
    "WorkerHeartbeat",
]
