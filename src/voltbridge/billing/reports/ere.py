"""Dutch ERE (renewable energy units for transport) per grid connection (EAN), station and delivery year.

Every session that started in the period is counted once, in the local year it started:
- a session with a current CDR is valid (issued without findings, or approved or corrected by a
  reviewer); a session still held for review is not (`invalid_session`);
- eligible kWh come from valid sessions on stations with a MID meter that are not bidirectional and
  have an EAN; the others are excluded with the first reason that applies, in this order:
  `invalid_session`, `no_mid_meter`, `bidirectional`, `no_ean`.

EREs = eligible kWh x renewable share of the delivery year x emission factor (183 g/MJ) x 3.6 MJ/kWh
/ 1000. The share per year and the constants come from `EreSettings`; `renewable_share` in the
request (one number, or `2024:0.40,2025:0.45`) overrides the share. A year without a share gets no
ERE figure. Station facts are those copied onto each CDR (for held sessions: the station's now).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.facts import Place, load_place
from voltbridge.billing.options import EreSettings
from voltbridge.billing.reports.common import (
    ZONE_MARGIN,
    Cell,
    ReportRequest,
    Table,
    check_filters,
    coarse,
    kwh,
    load_cdrs,
    utc,
    within,
)
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators.scope import Scope
from voltbridge.core.operators.timezones import local_iso, zone
from voltbridge.store.models import Transaction
from voltbridge.store.models.billing import SessionReview

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

REASONS = ("invalid_session", "no_mid_meter", "bidirectional", "no_ean")
SUMMARY_COLUMNS = (
    "grid_ean",
    "station_id",
    "delivery_year",
    "sessions",
    "total_kwh",
    "eligible_sessions",
    "eligible_kwh",
    *(f"excluded_kwh_{r}" for r in REASONS),
    "renewable_share",
    "emission_factor_g_per_mj",
    "mj_per_kwh",
    "eres",
)
SESSION_COLUMNS = (
    "transaction_id",
    "cdr_id",
    "station_id",
    "grid_ean",
    "delivery_year",
    "start",
    "start_local",
    "stop",
    "energy_wh",
    "kwh",
    "mid_meter",
    "mid_meter_serial",
    "bidirectional",
    "valid",
    "eligible",
    "excluded_reason",
    "renewable_share",
    "eres",
)
_ERE_PLACES = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class _Session:
    transaction_id: int
    cdr_id: int | None
    station_id: str
    grid_ean: str | None
    start: datetime
    stop: datetime | None
    timezone: str
    energy_wh: int
    mid_meter: bool
    mid_meter_serial: str | None
    bidirectional: bool
    valid: bool

    @property
    def year(self) -> int:
        return self.start.astimezone(zone(self.timezone)).year

    @property
    def excluded(self) -> str | None:
        if not self.valid:
            return "invalid_session"
        if not self.mid_meter:
            return "no_mid_meter"
        if self.bidirectional:
            return "bidirectional"
        if not self.grid_ean:
            return "no_ean"
        return None


@dataclass(slots=True)
class _Row:
    grid_ean: str | None
    station_id: str
    year: int
    sessions: int = 0
    total_wh: int = 0
    eligible_sessions: int = 0
    eligible_wh: int = 0
    excluded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))


def shares_of(request: ReportRequest, settings: EreSettings, years: Iterable[int]) -> dict[int, Decimal]:
    """The renewable share per delivery year: the request's, else the configured one."""
    shares = dict(settings.renewable_share)
    text = request.params.get("renewable_share")
    if text:
        shares.update(_parse_shares(text, years))
    return shares


def _parse_shares(text: str, years: Iterable[int]) -> dict[int, Decimal]:
    try:
        if ":" not in text:
            share = Decimal(text)
            parsed = dict.fromkeys(years, share)
        else:
            parsed = {}
            for part in text.split(","):
                year_text, value = part.split(":")
                parsed[int(year_text)] = Decimal(value)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidInput(
            f"`renewable_share` must be a share such as 0.45 or per year such as 2024:0.40,2025:0.45, not {text!r}"
        ) from exc
    for year, share in parsed.items():
        if not share.is_finite() or not Decimal(0) <= share <= Decimal(1):
            raise InvalidInput(f"renewable share {share} for {year} is not between 0 and 1")
    return parsed


def eres(eligible_wh: int, share: Decimal | None, settings: EreSettings) -> Decimal | None:
    """EREs for the eligible energy, to three decimals (None without a renewable share)."""
    if share is None:
        return None
    value = (
        Decimal(eligible_wh) / 1000 * share * settings.emission_factor_g_per_mj * settings.mj_per_kwh / 1000
    )
    return value.quantize(_ERE_PLACES, rounding=ROUND_HALF_UP)


async def _sessions(
    session: AsyncSession, request: ReportRequest, principal: Principal | None
) -> list[_Session]:
    found: list[_Session] = []
    for line in await load_cdrs(session, request, principal):
        cdr = line.cdr
        found.append(
            _Session(
                transaction_id=cdr.transaction_id,
                cdr_id=cdr.id,
                station_id=cdr.station_id,
                grid_ean=cdr.grid_ean,
                start=cdr.start_at,
                stop=cdr.stop_at,
                timezone=cdr.timezone,
                energy_wh=cdr.energy_wh,
                mid_meter=cdr.mid_meter,
                mid_meter_serial=cdr.mid_meter_serial,
                bidirectional=cdr.bidirectional,
                valid=True,
            )
        )
    found.extend(await _held(session, request, principal))
    return sorted(found, key=lambda s: (s.grid_ean or "", s.station_id, s.start, s.transaction_id))


async def _held(session: AsyncSession, request: ReportRequest, principal: Principal | None) -> list[_Session]:
    """Sessions still held for review: not valid, with the station's facts as they are now."""
    scope = Scope.of(principal)
    query = (
        select(SessionReview, Transaction)
        .join(Transaction, Transaction.id == SessionReview.transaction_id)
        .where(
            SessionReview.status == "pending",
            scope.operators(SessionReview.operator_id),
            Transaction.started_at.is_not(None),
            Transaction.started_at >= coarse(request.start) - ZONE_MARGIN,
            Transaction.started_at < coarse(request.end) + ZONE_MARGIN,
        )
    )
    if request.operator_id is not None:
        query = query.where(SessionReview.operator_id == request.operator_id)
    if request.station_id is not None:
        query = query.where(SessionReview.station_id == request.station_id)
    found: list[_Session] = []
    places: dict[str, Place] = {}
    for review, tx in await session.execute(query):
        if tx.started_at is None:
            continue
        place = places.get(review.station_id) or await load_place(session, review.station_id)
        places[review.station_id] = place
        if request.area_id is not None and place.area_id != request.area_id:
            continue
        if not within(tx.started_at, request, zone(place.local_timezone)):
            continue
        m = place.metering
        found.append(
            _Session(
                transaction_id=tx.id,
                cdr_id=None,
                station_id=review.station_id,
                grid_ean=m.grid_ean,
                start=tx.started_at,
                stop=tx.stopped_at,
                timezone=place.local_timezone,
                energy_wh=max(tx.energy_wh or 0, 0),
                mid_meter=m.mid_meter,
                mid_meter_serial=m.mid_meter_serial,
                bidirectional=m.bidirectional,
                valid=False,
            )
        )
    return found


def _settings_columns(settings: EreSettings, share: Decimal | None) -> dict[str, Cell]:
    return {
        "renewable_share": None if share is None else str(share),
        "emission_factor_g_per_mj": str(settings.emission_factor_g_per_mj),
        "mj_per_kwh": str(settings.mj_per_kwh),
    }


async def ere_summary(
    session: AsyncSession, request: ReportRequest, principal: Principal | None, settings: EreSettings
) -> Table:
    """Eligible and excluded kWh and EREs per EAN, station and delivery year."""
    await check_filters(session, request, Scope.of(principal))
    sessions = await _sessions(session, request, principal)
    shares = shares_of(request, settings, {s.year for s in sessions})
    rows: dict[tuple[str, str, int], _Row] = {}
    for s in sessions:
        key = (s.grid_ean or "", s.station_id, s.year)
        row = rows.get(key)
        if row is None:
            row = rows[key] = _Row(s.grid_ean, s.station_id, s.year)
        row.sessions += 1
        row.total_wh += s.energy_wh
        reason = s.excluded
        if reason is None:
            row.eligible_sessions += 1
            row.eligible_wh += s.energy_wh
        else:
            row.excluded[reason] += s.energy_wh
    out: list[dict[str, Cell]] = []
    missing: set[int] = set()
    for key in sorted(rows):
        row = rows[key]
        share = shares.get(row.year)
        if share is None:
            missing.add(row.year)
        out.append(
            {
                "grid_ean": row.grid_ean,
                "station_id": row.station_id,
                "delivery_year": row.year,
                "sessions": row.sessions,
                "total_kwh": str(kwh(row.total_wh)),
                "eligible_sessions": row.eligible_sessions,
                "eligible_kwh": str(kwh(row.eligible_wh)),
                **{f"excluded_kwh_{r}": str(kwh(row.excluded[r])) for r in REASONS},
                **_settings_columns(settings, share),
                "eres": _text(eres(row.eligible_wh, share, settings)),
            }
        )
    return Table("ere", SUMMARY_COLUMNS, out, _notes(missing))


async def ere_sessions(
    session: AsyncSession, request: ReportRequest, principal: Principal | None, settings: EreSettings
) -> Table:
    """The sessions behind the ERE report, one row each, with why a session was excluded."""
    await check_filters(session, request, Scope.of(principal))
    sessions = await _sessions(session, request, principal)
    shares = shares_of(request, settings, {s.year for s in sessions})
    out: list[dict[str, Cell]] = []
    missing: set[int] = set()
    for s in sessions:
        share = shares.get(s.year)
        if share is None:
            missing.add(s.year)
        reason = s.excluded
        out.append(
            {
                "transaction_id": s.transaction_id,
                "cdr_id": s.cdr_id,
                "station_id": s.station_id,
                "grid_ean": s.grid_ean,
                "delivery_year": s.year,
                "start": utc(s.start),
                "start_local": local_iso(s.start, zone(s.timezone)),
                "stop": None if s.stop is None else utc(s.stop),
                "energy_wh": s.energy_wh,
                "kwh": str(kwh(s.energy_wh)),
                "mid_meter": s.mid_meter,
                "mid_meter_serial": s.mid_meter_serial,
                "bidirectional": s.bidirectional,
                "valid": s.valid,
                "eligible": reason is None,
                "excluded_reason": reason,
                "renewable_share": None if share is None else str(share),
                "eres": _text(eres(s.energy_wh if reason is None else 0, share, settings)),
            }
        )
    return Table("ere-sessions", SESSION_COLUMNS, out, _notes(missing))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _notes(missing: set[int]) -> list[str]:
    if not missing:
        return []
    years = ", ".join(str(y) for y in sorted(missing))
    return [f"no renewable share configured for {years}: pass renewable_share or configure it; no EREs shown"]


def share_map(values: Mapping[str, object]) -> dict[int, Decimal]:
    """Renewable shares from settings keyed by year as text ("2025": "0.45")."""
    return {int(k): Decimal(str(v)) for k, v in values.items()}
