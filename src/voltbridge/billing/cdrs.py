"""What goes into a CDR, and how a stored CDR reads in our API and as an OCPI 2.2.1 CDR.

Field names follow OCPI where they overlap (total_cost, total_energy_cost, charging_periods with
their dimensions, tariffs, signed_data, credit, credit_reference_id, remark), so the OCPI module only
adds what is roaming-specific (parties, the location object, the CDR token).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voltbridge.billing.tariffs import Cost, PeriodKind, PricedPeriod, PricingResult
from voltbridge.core.timeutil import iso_utc
from voltbridge.store.models.billing import ChargeDetailRecord, StationMetering

_BUCKETS = ("energy_cost", "time_cost", "parking_cost", "fixed_cost", "reservation_cost")
_OCPI_BUCKETS = {
    "energy_cost": "total_energy_cost",
    "time_cost": "total_time_cost",
    "parking_cost": "total_parking_cost",
    "fixed_cost": "total_fixed_cost",
    "reservation_cost": "total_reservation_cost",
}
_NATURE = {"Transaction.Begin": "Start", "Transaction.End": "End"}


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything a CDR row holds except its identity (id, sequence, credit links)."""

    transaction_id: int
    station_id: str
    connector_id: int
    area_id: int | None
    operator_id: int | None
    id_tag: str | None
    timezone: str
    start_at: datetime
    stop_at: datetime
    meter_start_wh: int | None
    meter_stop_wh: int | None
    energy_wh: int
    result: PricingResult
    tariff_pk: int | None
    tariff: dict[str, Any] | None
    signed_data: list[dict[str, Any]]
    flags: list[str]
    stop_reason: str | None
    remark: str | None
    metering: StationMetering
    correction: dict[str, Any] | None = None


def money(cost: Cost) -> dict[str, str]:
    """A cost as the API shows money: decimal strings."""
    return {"excl_vat": str(cost.excl_vat), "incl_vat": str(cost.incl_vat)}


def _negate(value: Mapping[str, str]) -> dict[str, str]:
    return {k: str(-Decimal(v)) for k, v in value.items()}


def totals_of(result: PricingResult) -> dict[str, Any]:
    """The CDR's totals (money as strings) and the engine's flags."""
    out: dict[str, Any] = {"total_cost": money(result.total_cost)}
    for bucket in _BUCKETS:
        out[bucket] = money(getattr(result, bucket))
    out["total_energy_kwh"] = str(result.total_energy_kwh)
    out["total_time_h"] = str(result.total_time_h)
    out["total_parking_time_h"] = str(result.total_parking_time_h)
    out["min_price_applied"] = result.min_price_applied
    out["max_price_applied"] = result.max_price_applied
    out["warnings"] = [w.value for w in result.warnings]
    return out


def period_of(period: PricedPeriod, tariff_id: str | None) -> dict[str, Any]:
    """A priced period: OCPI ChargingPeriod dimensions, plus its end, kind, cost and the components used."""
    dimensions: list[dict[str, str]] = [{"type": "ENERGY", "volume": str(period.energy_kwh)}]
    if period.kind is PeriodKind.PARKING:
        dimensions.append({"type": "PARKING_TIME", "volume": str(period.parking_time_h)})
    elif period.kind is PeriodKind.RESERVATION:
        dimensions.append({"type": "RESERVATION_TIME", "volume": str(period.reservation_time_h)})
    else:
        dimensions.append({"type": "TIME", "volume": str(period.time_h)})
    for name, value in (
        ("MIN_POWER", period.min_power_kw),
        ("MAX_POWER", period.max_power_kw),
        ("MIN_CURRENT", period.min_current_a),
        ("MAX_CURRENT", period.max_current_a),
    ):
        if value is not None:
            dimensions.append({"type": name, "volume": str(value)})
    out: dict[str, Any] = {
        "start_date_time": iso_utc(period.start),
        "end_date_time": iso_utc(period.end),
        "kind": period.kind.value,
        "dimensions": dimensions,
        "cost": money(period.cost),
        "components": [
            {
                "dimension": c.dimension.value,
                "price": str(c.price),
                "vat": None if c.vat is None else str(c.vat),
                "step_size": c.step_size,
                "volume": str(c.volume),
                "billed_volume": str(c.billed_volume),
                "cost": money(c.cost),
            }
            for c in period.components
        ],
    }
    if tariff_id is not None:
        out["tariff_id"] = tariff_id
    return out


def seconds_of(result: PricingResult) -> tuple[int, int]:
    """Charging and idle time of the session, in whole seconds."""
    charging = sum((p.time_h for p in result.periods if p.kind is PeriodKind.CHARGING), Decimal(0))
    idle = sum((p.parking_time_h for p in result.periods if p.kind is PeriodKind.PARKING), Decimal(0))
    return round(charging * 3600), round(idle * 3600)


def row_from(
    draft: Draft, *, sequence: int, created_at: datetime, created_by: str, local: tuple[str, str]
) -> ChargeDetailRecord:
    """A new CDR row from a draft (the caller adds it to its unit of work)."""
    result = draft.result
    tariff_id = None if draft.tariff is None else str(draft.tariff.get("id"))
    charging_s, idle_s = seconds_of(result)
    m = draft.metering
    return ChargeDetailRecord(
        transaction_id=draft.transaction_id,
        sequence=sequence,
        credit=False,
        credit_reference_id=None,
        supersedes_id=None,
        station_id=draft.station_id,
        connector_id=draft.connector_id,
        area_id=draft.area_id,
        operator_id=draft.operator_id,
        id_tag=draft.id_tag,
        timezone=draft.timezone,
        start_at=draft.start_at,
        stop_at=draft.stop_at,
        start_local=local[0],
        stop_local=local[1],
        meter_start_wh=draft.meter_start_wh,
        meter_stop_wh=draft.meter_stop_wh,
        energy_wh=draft.energy_wh,
        charging_seconds=charging_s,
        idle_seconds=idle_s,
        currency=result.currency,
        total_excl_vat=result.total_cost.excl_vat,
        total_incl_vat=result.total_cost.incl_vat,
        totals=totals_of(result),
        periods=[period_of(p, tariff_id) for p in result.periods],
        tariff_pk=draft.tariff_pk,
        tariff=draft.tariff,
        signed_data=draft.signed_data,
        flags=list(draft.flags),
        stop_reason=draft.stop_reason,
        remark=None if draft.remark is None else draft.remark[:255],
        correction=draft.correction,
        mid_meter=m.mid_meter,
        mid_meter_serial=m.mid_meter_serial,
        bidirectional=m.bidirectional,
        home_charger=m.home_charger,
        home_owner=m.home_owner,
        grid_ean=m.grid_ean,
        created_at=created_at,
        created_by=created_by,
    )


def credit_of(
    original: ChargeDetailRecord, *, sequence: int, created_at: datetime, created_by: str, remark: str
) -> ChargeDetailRecord:
    """The credit CDR of `original`: the same session with every amount negated (OCPI credit CDR)."""
    totals: dict[str, Any] = dict(original.totals)
    for key in ("total_cost", *_BUCKETS):
        if isinstance(totals.get(key), dict):
            totals[key] = _negate(totals[key])
    copied = {
        column.key: getattr(original, column.key)
        for column in ChargeDetailRecord.__table__.columns
        if column.key not in ("id",)
    }
    copied.update(
        sequence=sequence,
        credit=True,
        credit_reference_id=original.id,
        supersedes_id=None,
        total_excl_vat=-original.total_excl_vat,
        total_incl_vat=-original.total_incl_vat,
        totals=totals,
        remark=remark[:255],
        correction=None,
        created_at=created_at,
        created_by=created_by,
    )
    return ChargeDetailRecord(**copied)


def cdr_view(row: ChargeDetailRecord) -> dict[str, Any]:
    """The CDR as our API shows it (money as strings, energy in Wh, times in UTC and local)."""
    totals = row.totals
    return {
        "id": row.id,
        "transaction_id": row.transaction_id,
        "sequence": row.sequence,
        "credit": row.credit,
        "credit_reference_id": row.credit_reference_id,
        "supersedes_id": row.supersedes_id,
        "station_id": row.station_id,
        "connector_id": row.connector_id,
        "area_id": row.area_id,
        "operator_id": row.operator_id,
        "id_tag": row.id_tag,
        "timezone": row.timezone,
        "start_date_time": iso_utc(row.start_at),
        "end_date_time": iso_utc(row.stop_at),
        "start_local": row.start_local,
        "end_local": row.stop_local,
        "meter_start_wh": row.meter_start_wh,
        "meter_stop_wh": row.meter_stop_wh,
        "energy_wh": row.energy_wh,
        "charging_time_s": row.charging_seconds,
        "idle_time_s": row.idle_seconds,
        "currency": row.currency,
        "total_cost": totals.get("total_cost"),
        **{_OCPI_BUCKETS[b]: totals.get(b) for b in _BUCKETS},
        "total_energy": totals.get("total_energy_kwh"),
        "total_time": totals.get("total_time_h"),
        "total_parking_time": totals.get("total_parking_time_h"),
        "min_price_applied": totals.get("min_price_applied", False),
        "max_price_applied": totals.get("max_price_applied", False),
        "charging_periods": row.periods,
        "tariff_id": row.tariff_pk,
        "tariff": row.tariff,
        "signed_data": row.signed_data,
        "flags": row.flags,
        "stop_reason": row.stop_reason,
        "remark": row.remark,
        "correction": row.correction,
        "metering": {
            "mid_meter": row.mid_meter,
            "mid_meter_serial": row.mid_meter_serial,
            "bidirectional": row.bidirectional,
            "home_charger": row.home_charger,
            "home_owner": row.home_owner,
            "grid_ean": row.grid_ean,
        },
        "created_at": iso_utc(row.created_at),
        "created_by": row.created_by,
    }


def ocpi_cdr(row: ChargeDetailRecord) -> dict[str, Any]:
    """The CDR's OCPI 2.2.1 fields that billing knows (numbers as Decimal).

    The OCPI module adds country_code, party_id, cdr_token, auth_method, cdr_location and last_updated.
    """
    totals = row.totals

    def price(value: object) -> dict[str, Decimal] | None:
        if not isinstance(value, dict):
            return None
        return {"excl_vat": Decimal(value["excl_vat"]), "incl_vat": Decimal(value["incl_vat"])}

    out: dict[str, Any] = {
        "id": str(row.id),
        "start_date_time": iso_utc(row.start_at),
        "end_date_time": iso_utc(row.stop_at),
        "session_id": str(row.transaction_id),
        "currency": row.currency,
        "charging_periods": [
            {
                "start_date_time": p["start_date_time"],
                "dimensions": [
                    {"type": d["type"], "volume": Decimal(d["volume"])}
                    for d in p["dimensions"]
                    if not (
                        d["type"] == "ENERGY"
                        and p["kind"] == PeriodKind.PARKING.value
                        and Decimal(d["volume"]) == 0
                    )
                ],
                **({"tariff_id": p["tariff_id"]} if "tariff_id" in p else {}),
            }
            for p in row.periods
        ],
        "total_cost": price(totals.get("total_cost")),
        "total_energy": Decimal(totals.get("total_energy_kwh", "0")),
        "total_time": Decimal(totals.get("total_time_h", "0")),
        "total_parking_time": Decimal(totals.get("total_parking_time_h", "0")),
    }
    for bucket in ("energy_cost", "time_cost", "parking_cost", "fixed_cost", "reservation_cost"):
        value = price(totals.get(bucket))
        if value is not None and (value["excl_vat"] != 0 or value["incl_vat"] != 0):
            out[_OCPI_BUCKETS[bucket]] = value
    if row.tariff is not None:
        out["tariffs"] = [row.tariff]
    if row.mid_meter_serial:
        out["meter_id"] = row.mid_meter_serial
    if row.signed_data:
        out["signed_data"] = _ocpi_signed(row.signed_data)
    if row.remark:
        out["remark"] = row.remark
    if row.credit:
        out["credit"] = True
        out["credit_reference_id"] = str(row.credit_reference_id)
    if row.home_charger:
        out["home_charging_compensation"] = True
    return out


def _ocpi_signed(values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    data = [str(v.get("data", "")) for v in values]
    method = "OCMF" if data and all(d.startswith("OCMF|") for d in data) else "unknown"
    return {
        "encoding_method": method,
        "signed_values": [
            {
                "nature": _NATURE.get(str(v.get("context")), "Intermediate"),
                "plain_data": "",
                "signed_data": str(v.get("data", "")),
            }
            for v in values
        ],
    }
