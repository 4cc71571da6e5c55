"""Commission set-up per operator: prices per kWh and per session, and the operator's revenue share."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from voltbridge.core.clock import Clock
from voltbridge.core.errors import InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.money import check_currency
from voltbridge.core.operators.operators import load_operator
from voltbridge.core.operators.scope import Scope, require_admin
from voltbridge.store import Database
from voltbridge.store.models.operators import CommissionSettings

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

_PRICE_PLACES = Decimal("0.0001")
_PERCENT_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class CommissionTerms:
    """What a session earns (per kWh and/or per session) and the operator's percentage of it."""

    currency: str
    price_per_kwh: Decimal | None
    price_per_session: Decimal | None
    operator_share_percent: Decimal

    def check(self) -> None:
        """InvalidInput if a price is negative or has more than 4 decimals, or the share is not 0 to 100."""
        check_currency(self.currency)
        for name, price in (
            ("price_per_kwh", self.price_per_kwh),
            ("price_per_session", self.price_per_session),
        ):
            if price is None:
                continue
            if price < 0:
                raise InvalidInput(f"{name} must be 0 or more")
            if price != price.quantize(_PRICE_PLACES):
                raise InvalidInput(f"{name} has at most 4 decimal places")
        if not Decimal(0) <= self.operator_share_percent <= Decimal(100):
            raise InvalidInput("operator_share_percent must be between 0 and 100")
        if self.operator_share_percent != self.operator_share_percent.quantize(_PERCENT_PLACES):
            raise InvalidInput("operator_share_percent has at most 2 decimal places")


def terms_of(row: CommissionSettings) -> CommissionTerms:
    """The stored settings as terms."""
    return CommissionTerms(row.currency, row.price_per_kwh, row.price_per_session, row.operator_share_percent)


def _plain(terms: CommissionTerms | None) -> dict[str, object]:
    if terms is None:
        return {
            "currency": None,
            "price_per_kwh": None,
            "price_per_session": None,
            "operator_share_percent": None,
        }
    return {
        "currency": terms.currency,
        "price_per_kwh": terms.price_per_kwh,
        "price_per_session": terms.price_per_session,
        "operator_share_percent": terms.operator_share_percent,
    }


class CommissionService:
    """Reads and sets an operator's commission terms (setting them is for platform admins)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(self, operator_id: int, *, principal: Principal | None = None) -> CommissionSettings:
        """The operator's terms; NotFound if it has none yet (or is outside the caller's scope)."""
        async with self._db.read() as session:
            await load_operator(session, operator_id, Scope.of(principal))
            row = await session.get(CommissionSettings, operator_id)
            if row is None:
                raise NotFound(f"operator {operator_id} has no commission set up yet")
            return row

    async def set(
        self, operator_id: int, terms: CommissionTerms, *, actor: Principal | None = None
    ) -> CommissionSettings:
        """Replace the operator's terms (they apply to reports from then on, for every period)."""
        terms.check()
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            require_admin(actor, "set commissions")
            row = await session.get(CommissionSettings, operator_id)
            before = _plain(terms_of(row) if row is not None else None)
            now = self._clock.now()
            if row is None:
                row = CommissionSettings(operator_id=operator.id)
                session.add(row)
            row.currency = terms.currency
            row.price_per_kwh = terms.price_per_kwh
            row.price_per_session = terms.price_per_session
            row.operator_share_percent = terms.operator_share_percent
            row.updated_at = now
            old, new = audit.changes(before, _plain(terms))
            if new:
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="commission",
                    entity_id=operator.id,
                    action="update",
                    operator_id=operator.id,
                    before=old,
                    after=new,
                )
        return row
