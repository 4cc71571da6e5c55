"""Reading and writing the OCPI 2.2.1 JSON shape of a Tariff.

`parse_tariff` accepts the decoded JSON (numbers as int, float, Decimal or numeric strings; a float is
read through its shortest repr, so 0.1 becomes Decimal("0.1")). Unknown keys are ignored, as OCPI asks
receivers to do. Anything malformed raises `InvalidInput` naming the path of the bad field.

`tariff_to_ocpi` writes only the fields that are set, numbers as `Decimal` (or `int` for step sizes
and durations), date-times as UTC with a `Z` and at most millisecond precision, times as "HH:MM". The
caller serializes numbers with a Decimal-aware JSON encoder. Parsing the output gives an equal Tariff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from voltbridge.billing.tariffs.models import (
    DayOfWeek,
    DisplayText,
    EnergyMix,
    EnergySource,
    EnvironmentalImpact,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from voltbridge.core.errors import InvalidInput

_E = TypeVar("_E", bound=StrEnum)

_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_tariff(data: Mapping[str, object]) -> Tariff:
    """Build a Tariff from its OCPI 2.2.1 JSON object; raise `InvalidInput` naming the bad field."""
    _expect_mapping(data, "tariff")
    elements = _sequence(data, "elements", "tariff", required=True)
    parsed_elements = tuple(
        _parse_element(_as_mapping(item, f"tariff.elements[{i}]"), f"tariff.elements[{i}]")
        for i, item in enumerate(elements)
    )
    alt_text = tuple(
        _parse_display_text(_as_mapping(item, f"tariff.tariff_alt_text[{i}]"), f"tariff.tariff_alt_text[{i}]")
        for i, item in enumerate(_sequence(data, "tariff_alt_text", "tariff"))
    )
    raw_type = _optional_str(data, "type", "tariff")
    raw_mix = data.get("energy_mix")
    tariff_id = _str(data, "id", "tariff")
    currency = _str(data, "currency", "tariff")
    country_code = _optional_str(data, "country_code", "tariff")
    party_id = _optional_str(data, "party_id", "tariff")
    alt_url = _optional_str(data, "tariff_alt_url", "tariff")
    min_price = _optional_price(data, "min_price", "tariff")
    max_price = _optional_price(data, "max_price", "tariff")
    energy_mix = (
        None
        if raw_mix is None
        else _parse_energy_mix(_as_mapping(raw_mix, "tariff.energy_mix"), "tariff.energy_mix")
    )
    start = _optional_datetime(data, "start_date_time", "tariff")
    end = _optional_datetime(data, "end_date_time", "tariff")
    last_updated = _optional_datetime(data, "last_updated", "tariff")
    tariff_type = None if raw_type is None else _enum(TariffType, raw_type, "tariff.type")
    try:
        return Tariff(
            id=tariff_id,
            currency=currency,
            elements=parsed_elements,
            country_code=country_code,
            party_id=party_id,
            type=tariff_type,
            tariff_alt_text=alt_text,
            tariff_alt_url=alt_url,
            min_price=min_price,
            max_price=max_price,
            energy_mix=energy_mix,
            start_date_time=start,
            end_date_time=end,
            last_updated=last_updated,
        )
    except InvalidInput as exc:
        raise InvalidInput(f"tariff: {exc}") from exc


def tariff_to_ocpi(tariff: Tariff) -> dict[str, object]:
    """The OCPI 2.2.1 JSON object of a Tariff (numbers as Decimal/int; only the fields that are set)."""
    out: dict[str, object] = {}
    _put(out, "country_code", tariff.country_code)
    _put(out, "party_id", tariff.party_id)
    out["id"] = tariff.id
    out["currency"] = tariff.currency
    _put(out, "type", None if tariff.type is None else tariff.type.value)
    if tariff.tariff_alt_text:
        out["tariff_alt_text"] = [{"language": t.language, "text": t.text} for t in tariff.tariff_alt_text]
    _put(out, "tariff_alt_url", tariff.tariff_alt_url)
    if tariff.min_price is not None:
        out["min_price"] = _price_out(tariff.min_price)
    if tariff.max_price is not None:
        out["max_price"] = _price_out(tariff.max_price)
    out["elements"] = [_element_out(element) for element in tariff.elements]
    if tariff.energy_mix is not None:
        out["energy_mix"] = _energy_mix_out(tariff.energy_mix)
    _put(out, "start_date_time", _datetime_out(tariff.start_date_time))
    _put(out, "end_date_time", _datetime_out(tariff.end_date_time))
    _put(out, "last_updated", _datetime_out(tariff.last_updated))
    return out


def parse_decimal(value: object, path: str) -> Decimal:
    """A JSON number (int, float, Decimal or numeric string) as a finite Decimal."""
    if isinstance(value, bool):
        raise InvalidInput(f"{path}: expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 0.1 -> "0.1", not 0.1000000000000000055…
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise InvalidInput(f"{path}: expected a number, got {value!r}") from exc
    else:
        raise InvalidInput(f"{path}: expected a number, got {value!r}")
    if not result.is_finite():
        raise InvalidInput(f"{path}: expected a finite number, got {value!r}")
    return result


def parse_datetime(value: object, path: str) -> datetime:
    """An OCPI DateTime as an aware UTC datetime; one without an offset is UTC, as OCPI defines."""
    if not isinstance(value, str):
        raise InvalidInput(f"{path}: expected a date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(f"{path}: {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """An OCPI DateTime: UTC with `Z`, milliseconds only when they are not zero."""
    value = value.astimezone(UTC)
    spec = "milliseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _parse_element(data: Mapping[str, object], path: str) -> TariffElement:
    components = _sequence(data, "price_components", path, required=True)
    parsed = tuple(
        _parse_component(_as_mapping(item, f"{path}.price_components[{i}]"), f"{path}.price_components[{i}]")
        for i, item in enumerate(components)
    )
    raw = data.get("restrictions")
    restrictions = (
        None
        if raw is None
        else _parse_restrictions(_as_mapping(raw, f"{path}.restrictions"), f"{path}.restrictions")
    )
    try:
        return TariffElement(price_components=parsed, restrictions=restrictions)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc


def _parse_component(data: Mapping[str, object], path: str) -> PriceComponent:
    raw_vat = data.get("vat")
    dimension = _enum(TariffDimensionType, _str(data, "type", path), f"{path}.type")
    price = parse_decimal(_required(data, "price", path), f"{path}.price")
    step_size = _int(_required(data, "step_size", path), f"{path}.step_size")
    vat = None if raw_vat is None else parse_decimal(raw_vat, f"{path}.vat")
    try:
        return PriceComponent(type=dimension, price=price, step_size=step_size, vat=vat)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc


def _parse_restrictions(data: Mapping[str, object], path: str) -> TariffRestrictions:
    def number(name: str) -> Decimal | None:
        value = data.get(name)
        return None if value is None else parse_decimal(value, f"{path}.{name}")

    def seconds(name: str) -> int | None:
        value = data.get(name)
        return None if value is None else _int(value, f"{path}.{name}")

    reservation = _optional_str(data, "reservation", path)
    days = tuple(
        _enum(DayOfWeek, _as_str(item, f"{path}.day_of_week[{i}]"), f"{path}.day_of_week[{i}]")
        for i, item in enumerate(_sequence(data, "day_of_week", path))
    )
    start_time = _optional_time(data, "start_time", path, allow_24=False)
    end_time = _optional_time(data, "end_time", path, allow_24=True)
    start_date = _optional_date(data, "start_date", path)
    end_date = _optional_date(data, "end_date", path)
    kind = (
        None if reservation is None else _enum(ReservationRestrictionType, reservation, f"{path}.reservation")
    )
    min_kwh, max_kwh = number("min_kwh"), number("max_kwh")
    min_current, max_current = number("min_current"), number("max_current")
    min_power, max_power = number("min_power"), number("max_power")
    min_duration, max_duration = seconds("min_duration"), seconds("max_duration")
    try:
        return TariffRestrictions(
            start_time=start_time,
            end_time=end_time,
            start_date=start_date,
            end_date=end_date,
            min_kwh=min_kwh,
            max_kwh=max_kwh,
            min_current=min_current,
            max_current=max_current,
            min_power=min_power,
            max_power=max_power,
            min_duration=min_duration,
            max_duration=max_duration,
            day_of_week=days,
            reservation=kind,
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc


def _parse_display_text(data: Mapping[str, object], path: str) -> DisplayText:
    return DisplayText(language=_str(data, "language", path), text=_str(data, "text", path))


def _parse_energy_mix(data: Mapping[str, object], path: str) -> EnergyMix:
    green = _required(data, "is_green_energy", path)
    if not isinstance(green, bool):
        raise InvalidInput(f"{path}.is_green_energy: expected true or false, got {green!r}")
    sources = []
    for i, item in enumerate(_sequence(data, "energy_sources", path)):
        where = f"{path}.energy_sources[{i}]"
        source = _as_mapping(item, where)
        sources.append(
            EnergySource(
                source=_str(source, "source", where),
                percentage=parse_decimal(_required(source, "percentage", where), f"{where}.percentage"),
            )
        )
    impacts = []
    for i, item in enumerate(_sequence(data, "environ_impact", path)):
        where = f"{path}.environ_impact[{i}]"
        impact = _as_mapping(item, where)
        impacts.append(
            EnvironmentalImpact(
                category=_str(impact, "category", where),
                amount=parse_decimal(_required(impact, "amount", where), f"{where}.amount"),
            )
        )
    return EnergyMix(
        is_green_energy=green,
        energy_sources=tuple(sources),
        environ_impact=tuple(impacts),
        supplier_name=_optional_str(data, "supplier_name", path),
        energy_product_name=_optional_str(data, "energy_product_name", path),
    )


def _optional_price(data: Mapping[str, object], key: str, path: str) -> Price | None:
    value = data.get(key)
    if value is None:
        return None
    where = f"{path}.{key}"
    price = _as_mapping(value, where)
    raw_incl = price.get("incl_vat")
    excl = parse_decimal(_required(price, "excl_vat", where), f"{where}.excl_vat")
    incl = None if raw_incl is None else parse_decimal(raw_incl, f"{where}.incl_vat")
    try:
        return Price(excl_vat=excl, incl_vat=incl)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from exc


def _optional_time(data: Mapping[str, object], key: str, path: str, *, allow_24: bool) -> time | None:
    value = data.get(key)
    if value is None:
        return None
    text = _as_str(value, f"{path}.{key}")
    if allow_24 and text == "24:00":
        # Not valid OCPI, but older spec examples used it for "end of day", which OCPI spells 00:00.
        return time(0, 0)
    match = _TIME.match(text)
    if match is None:
        raise InvalidInput(f"{path}.{key}: expected HH:MM, got {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _optional_date(data: Mapping[str, object], key: str, path: str) -> date | None:
    value = data.get(key)
    if value is None:
        return None
    text = _as_str(value, f"{path}.{key}")
    if _DATE.match(text) is None:
        raise InvalidInput(f"{path}.{key}: expected YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{path}.{key}: {text!r} is not a date") from exc


def _optional_datetime(data: Mapping[str, object], key: str, path: str) -> datetime | None:
    value = data.get(key)
    return None if value is None else parse_datetime(value, f"{path}.{key}")


def _enum(kind: type[_E], value: str, path: str) -> _E:
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{path}: {value!r} is not one of {allowed}") from exc


def _int(value: object, path: str) -> int:
    number = parse_decimal(value, path)
    if number != number.to_integral_value():
        raise InvalidInput(f"{path}: expected a whole number, got {value!r}")
    return int(number)


def _required(data: Mapping[str, object], key: str, path: str) -> object:
    value = data.get(key)
    if value is None:
        raise InvalidInput(f"{path}.{key} is required")
    return value


def _str(data: Mapping[str, object], key: str, path: str) -> str:
    return _as_str(_required(data, key, path), f"{path}.{key}")


def _optional_str(data: Mapping[str, object], key: str, path: str) -> str | None:
    value = data.get(key)
    return None if value is None else _as_str(value, f"{path}.{key}")


def _as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{path}: expected a string, got {value!r}")
    return value


def _sequence(data: Mapping[str, object], key: str, path: str, *, required: bool = False) -> Sequence[object]:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{path}.{key} is required")
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInput(f"{path}.{key}: expected a list, got {value!r}")
    return value


def _expect_mapping(value: object, path: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{path}: expected an object, got {type(value).__name__}")


def _as_mapping(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{path}: expected an object, got {value!r}")
    return value


def _put(out: dict[str, object], key: str, value: object) -> None:
    if value is not None:
        out[key] = value


def _price_out(price: Price) -> dict[str, object]:
    out: dict[str, object] = {"excl_vat": price.excl_vat}
    _put(out, "incl_vat", price.incl_vat)
    return out


def _element_out(element: TariffElement) -> dict[str, object]:
    components: list[dict[str, object]] = []
    for component in element.price_components:
        item: dict[str, object] = {"type": component.type.value, "price": component.price}
        _put(item, "vat", component.vat)
        item["step_size"] = component.step_size
        components.append(item)
    out: dict[str, object] = {"price_components": components}
    if element.restrictions is not None:
        out["restrictions"] = _restrictions_out(element.restrictions)
    return out


def _restrictions_out(r: TariffRestrictions) -> dict[str, object]:
    out: dict[str, object] = {}
    _put(out, "start_time", None if r.start_time is None else r.start_time.strftime("%H:%M"))
    _put(out, "end_time", None if r.end_time is None else r.end_time.strftime("%H:%M"))
    _put(out, "start_date", None if r.start_date is None else r.start_date.isoformat())
    _put(out, "end_date", None if r.end_date is None else r.end_date.isoformat())
    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        _put(out, name, getattr(r, name))
    _put(out, "min_duration", r.min_duration)
    _put(out, "max_duration", r.max_duration)
    if r.day_of_week:
        out["day_of_week"] = [day.value for day in r.day_of_week]
    _put(out, "reservation", None if r.reservation is None else r.reservation.value)
    return out


def _energy_mix_out(mix: EnergyMix) -> dict[str, object]:
    out: dict[str, object] = {"is_green_energy": mix.is_green_energy}
    if mix.energy_sources:
        out["energy_sources"] = [{"source": s.source, "percentage": s.percentage} for s in mix.energy_sources]
    if mix.environ_impact:
        out["environ_impact"] = [{"category": i.category, "amount": i.amount} for i in mix.environ_impact]
    _put(out, "supplier_name", mix.supplier_name)
    _put(out, "energy_product_name", mix.energy_product_name)
    return out


def _datetime_out(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)
