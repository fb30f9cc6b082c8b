"""A synthetic purchase history with planted truth, inserted directly into customers and purchases: wholesale
buyers in the north buy monthly and a lot (the Champions, cell A), one-off retail buyers from every region
bought once a year or two ago and never returned (Lost and its neighbours), dealers buy now and then, and
"insolvent" wholesale buyers of the south never paid (customers without purchases, so never analysed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert

from service.models import Customer, Purchase
from service.runtime import Runtime
from service.services.fields import create_field

AS_OF = date(2026, 6, 30)
REGIONS = ("north", "south", "east", "west")
SOURCE = "test:planted"


@dataclass
class Planted:
    """What was planted: customer ids per group, and every purchase amount."""

    wholesale: list[int] = field(default_factory=list)
    retail: list[int] = field(default_factory=list)
    dealers: list[int] = field(default_factory=list)
    insolvent: list[int] = field(default_factory=list)
    amounts: list[Decimal] = field(default_factory=list)

    @property
    def buyers(self) -> int:
        """Customers with at least one purchase."""
        return len(self.wholesale) + len(self.retail) + len(self.dealers)


def portrait_fields(runtime: Runtime) -> None:
    """The two portrait fields the customers' values use, so the draft persona's criteria are valid."""
    create_field(runtime, {"key": "client_type", "label": "Client type", "type": "enum",
                           "constraints": {"options": ["wholesale", "retail", "dealer"]}})
    create_field(runtime, {"key": "region", "label": "Region", "type": "enum",
                           "constraints": {"options": list(REGIONS)}})


def plant(runtime: Runtime, *, wholesale: int = 110, retail: int = 300, dealers: int = 150, insolvent: int = 40,
          seed: int = 15) -> Planted:
    """Insert the planted history (see the module doc) and return what went where."""
    rnd = random.Random(seed)
    planted = Planted()
    groups = [("wholesale", wholesale), ("retail", retail), ("dealer", dealers), ("insolvent", insolvent)]
    purchases: list[dict[str, object]] = []
    with runtime.uow() as uow:
        for kind, count in groups:
            for i in range(count):
                region = "north" if kind == "wholesale" else "south" if kind == "insolvent" else rnd.choice(REGIONS)
                values = {"client_type": "wholesale" if kind == "insolvent" else kind, "region": region}
                row = Customer(source=SOURCE, kind="company", external_id=f"{kind}-{i}", name=f"{kind} {i}",
                               values=values)
                uow.session.add(row)
                uow.session.flush()
                days: list[tuple[int, Decimal]] = []
                if kind == "wholesale":
                    days = [(30 * m + rnd.randint(2, 4), Decimal(rnd.randint(1000, 1500))) for m in range(24)]
                    planted.wholesale.append(row.id)
                elif kind == "retail":
                    days = [(rnd.randint(366, 720), Decimal(rnd.randint(20, 80)))]
                    planted.retail.append(row.id)
                elif kind == "dealer":
                    days = [(rnd.randint(20, 365), Decimal(rnd.randint(100, 300))) for _ in range(rnd.randint(3, 6))]
                    planted.dealers.append(row.id)
                else:
                    planted.insolvent.append(row.id)
                for n, (ago, amount) in enumerate(days):
                    purchases.append({"customer_id": row.id, "source": SOURCE, "external_id": f"{kind}-{i}-{n}",
                                      "amount": amount, "currency": "USD", "purchased_on": AS_OF - timedelta(days=ago)})
                    planted.amounts.append(amount)
        uow.session.execute(insert(Purchase), purchases)
        uow.commit()
    return planted
