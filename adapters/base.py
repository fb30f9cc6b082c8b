"""The CRM adapter Protocol and the frozen DTOs that cross the adapter boundary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from adapters.errors import CRMRejected, WebhookFormatError


@dataclass(frozen=True)
class Credentials:
    """What an adapter needs to call one CRM account."""

    base_url: str
    access_token: str
    client_secret: str | None = None
    app_id: str | None = None


@dataclass(frozen=True)
class StageInfo:
    """A pipeline stage as the CRM describes it."""

    id: str
    label: str
    order: int
    is_closed: bool = False
    is_won: bool = False
    probability: float | None = None


@dataclass(frozen=True)
class PipelineInfo:
    """A deal pipeline with its stages in display order."""

    id: str
    label: str
    order: int
    stages: tuple[StageInfo, ...]


@dataclass(frozen=True)
class OptionInfo:
    """One option of an enumeration property."""

    value: str
    label: str


@dataclass(frozen=True)
class PropertyInfo:
    """A deal property (standard or custom) the CRM exposes."""

    name: str
    label: str
    type: str
    field_type: str
    options: tuple[OptionInfo, ...] = ()


@dataclass(frozen=True)
class OwnerInfo:
    """A CRM user who can own deals, deactivated ones included (they still own old deals).

    `id` is what deals name as their owner; `user_id` is what the CRM names as the person who made a change
    (HubSpot: the owner's userId, another number; the other CRMs: the same id). Adapters always fill it.
    """

    id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    user_id: str | None = None
    active: bool = True  # False: deactivated, archived or dismissed in the CRM

    @property
    def name(self) -> str:
        """First and last name, else the email, else the id."""
        full = " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip())
        return full or (self.email or "").strip() or self.id


@dataclass(frozen=True)
class StageChange:
    """One entry of a deal's stage history (newest first in DealSnapshot.stage_history).

    `source_type` is the CRM's own word for the channel (HubSpot's sourceType, Bitrix24's history type),
    `source_id` who made the change as the CRM names them (its registry entry's `actor_user_id` gives the user
    id), `source` the channel normalized (adapters.changes.SOURCES).
    """

    stage_id: str
    at: datetime
    source_type: str | None = None
    source_id: str | None = None
    source: str = "unknown"


@dataclass(frozen=True)
class DealSnapshot:
    """A deal as read from the CRM; property values are the CRM's raw strings.

    `amount` is plain decimal text ("1234.50", adapters.amounts) in `currency` (an ISO code as the CRM gives
    it); `created_at` is when the deal was created in the CRM, `closed_at` when it was won or lost (None while
    open), `modified_by` the CRM user id (`OwnerInfo.user_id`) of its last modifier where the CRM returns one.
    `company_id` / `contact_id` are the deal's buyer: its first associated company and its primary (else first)
    contact, None where it has none.
    """

    id: str
    pipeline_id: str | None
    stage_id: str | None
    owner_id: str | None
    amount: str | None
    name: str | None
    modified_at: datetime | None
    properties: Mapping[str, str | None]
    stage_history: tuple[StageChange, ...] = ()
    currency: str | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    modified_by: str | None = None
    company_id: str | None = None
    contact_id: str | None = None

    @classmethod
    def trusted(cls, id: str, pipeline_id: str | None, stage_id: str | None, owner_id: str | None,
                amount: str | None, name: str | None, modified_at: datetime | None,
                properties: Mapping[str, str | None], stage_history: tuple[StageChange, ...] = (),
                currency: str | None = None, created_at: datetime | None = None, closed_at: datetime | None = None,
                modified_by: str | None = None, company_id: str | None = None,
                contact_id: str | None = None) -> DealSnapshot:
        """The same snapshot as the constructor's, built without its per-field checks: sync converts every
        deal it reads, and a frozen dataclass's __init__ costs several times more than the conversion."""
        snapshot = object.__new__(cls)
        # A dict display, not keyword arguments: update(**kwargs) builds the same dict more slowly.
        snapshot.__dict__.update({
            "id": id, "pipeline_id": pipeline_id, "stage_id": stage_id, "owner_id": owner_id, "amount": amount,
            "name": name, "modified_at": modified_at, "properties": properties, "stage_history": stage_history,
            "currency": currency, "created_at": created_at, "closed_at": closed_at, "modified_by": modified_by,
            "company_id": company_id, "contact_id": contact_id,
        })  # fmt: skip
        return snapshot


CUSTOMER_KINDS = ("company", "contact")


@dataclass(frozen=True)
class CustomerSnapshot:
    """A deal's buyer as read from the CRM: a company (`kind` "company") or a contact ("contact"), its display
    name and the requested properties as the CRM's raw strings (None when unset)."""

    kind: str
    id: str
    name: str | None
    properties: Mapping[str, str | None]


def check_customer_kind(kind: str) -> None:
    """Refuse a customer kind other than company / contact (CRMRejected, before any HTTP call)."""
    if kind not in CUSTOMER_KINDS:
        raise CRMRejected(f"unknown customer kind {kind!r}: one of {', '.join(CUSTOMER_KINDS)}")


@dataclass(frozen=True)
class DealPage:
    """One page of a modified-since search; `next_after` is None on the last page."""

    deals: tuple[DealSnapshot, ...]
    next_after: str | None
    total: int | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """One event of an inbound webhook delivery, normalized across CRMs."""

    delivery_key: str
    object_id: str
    kind: str  # property_change | creation | deletion | merge | restore | association | other
    occurred_at: datetime
    object_type: str = "deal"
    property_name: str | None = None
    property_value: str | None = None
    change_source: str | None = None  # the CRM's own word for the channel (HubSpot changeSource, ...)
    source_id: str | None = None  # who made the change, as the CRM names them (CRMKind.actor_user_id)
    attempt: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict)
    new_stage: str | None = None  # set when the event reports a stage change, to the new stage id
    source: str = "unknown"  # through what the change was made: adapters.changes.SOURCES
    old_stage: str | None = None  # the previous stage, where the CRM sends it (Pipedrive, amoCRM)
    new_pipeline: str | None = None
    old_pipeline: str | None = None
    account: str | None = None  # the CRM account the event belongs to (portal id, subdomain, member id)

    def __post_init__(self) -> None:
        """WebhookFormatError (bad_event) for a value longer than the event store keeps (EVENT_LIMITS): an
        authentic delivery with one is refused before anything is stored, never cut or failing the insert."""
        for name, limit in EVENT_LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise WebhookFormatError("bad_event", f"{name} is longer than {limit} characters", field=name)


# The longest value the event store keeps of each WebhookEvent text field.
EVENT_LIMITS = {"delivery_key": 200, "object_id": 64, "new_stage": 64, "old_stage": 64, "new_pipeline": 64,
                "old_pipeline": 64, "change_source": 40, "source_id": 120}  # fmt: skip


@dataclass(frozen=True)
class TaskRequest:
    """A to-do for a CRM user; `marker` is embedded so a retry can find it again.

    With `deal_id` the task is attached to that deal (for `owner_id`, else the CRM's default user);
    with `deal_id` None it is a standalone task for `owner_id`, which is then required.
    """

    deal_id: str | None
    owner_id: str | None
    subject: str
    body: str
    marker: str
    due: datetime


def check_task_target(request: TaskRequest, crm: str) -> None:
    """Refuse a task that has neither a deal nor a user to go to (CRMRejected, before any HTTP call)."""
    if request.deal_id is None and not request.owner_id:
        raise CRMRejected(f"{crm}: a task without deal_id needs owner_id (the user it is for)")


class StageMover:
    """`move_deal` for adapters whose stage and pipeline are plain deal properties under these names."""

    stage_property: str
    pipeline_property: str

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """Implemented by the adapter."""
        raise NotImplementedError

    def move_deal(self, deal_id: str, stage_id: str, pipeline_id: str | None = None) -> None:
        """Put the deal into `stage_id` (and `pipeline_id` when it changes pipelines)."""
        properties = {self.stage_property: stage_id}
        if pipeline_id is not None:
            properties[self.pipeline_property] = pipeline_id
        self.update_deal(deal_id, properties)


@dataclass(frozen=True)
class OAuthTokens:
    """An access token, its refresh token (None for long-lived tokens) and expiry (epoch seconds)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None


class TokenStore(Protocol):
    """Durable storage for one connection's tokens (e.g. an encrypted DB column)."""

    def load(self) -> OAuthTokens:
        """The current tokens."""

    def save(self, tokens: OAuthTokens) -> None:
        """Persist a new pair; must be durable when it returns (the old refresh token is dead)."""


class WebhookVerifier(Protocol):
    """Authenticates and parses one CRM's webhook deliveries."""

    def verify(
        self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        """Accept the delivery or raise WebhookAuthError."""

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """Split an authentic delivery into events or raise WebhookFormatError."""


class OfflineEventSource(Protocol):
    """A CRM queue of events that waits to be read (Bitrix24 offline events): read, store, then clear."""

    def fetch_offline_events(self, limit: int = 50) -> list[WebhookEvent]:
        """Up to `limit` queued events, left in the queue until cleared; adapters.errors types on failure."""

    def clear_offline_events(self, events: Sequence[WebhookEvent]) -> None:
        """Drop these events, as fetch_offline_events gave them, from the queue once they are stored."""


class CRMAdapter(Protocol):
    """The calls the service makes to one CRM account. Errors are adapters.errors types."""

    kind: str

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """Read one deal with the given properties and its stage history."""

    def search_deals_modified_since(
        self, since: datetime, properties: Sequence[str], after: str | None = None, limit: int = 200
    ) -> DealPage:
        """One page of deals modified at or after `since`, oldest first."""

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """Write deal properties (stage, pipeline, custom fields) under the CRM's own names."""

    def move_deal(self, deal_id: str, stage_id: str, pipeline_id: str | None = None) -> None:
        """Put the deal into a stage (and another pipeline when `pipeline_id` is given)."""

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of a task on the deal whose body carries `marker`, if one exists."""

    def create_task(self, request: TaskRequest) -> str:
        """Create a task on the deal, or a standalone one for `owner_id` when `deal_id` is None;
        returns its CRM id. CRMRejected when both are None."""

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """Create a note associated with the deal; returns its CRM id."""

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """Every deal pipeline with its stages."""

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """Every deal property, standard and custom."""

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every user of the account who can own deals, deactivated ones included (`active` False)."""

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """The companies (`kind` "company") or contacts ("contact") with these ids and properties, read in as few
        calls as the CRM allows; ids the CRM does not know are left out. CRMRejected for another kind."""

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """Every property of the CRM's companies or contacts (`kind`), standard and custom, for mapping."""

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """The CRM's own per-stage required fields: stage id -> property names ({} when it has none
        readable over the API, as with HubSpot)."""

    def close(self) -> None:
        """Release the HTTP client."""
