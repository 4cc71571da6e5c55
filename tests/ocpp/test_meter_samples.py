"""Reading 1.6 sampled values: units, defaults, signed data, timestamps, and the session's register."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voltbridge.core.errors import InvalidInput
from voltbridge.core.metering import REGISTER, Sample, last_register, normalise
from voltbridge.ocpp.v16.handlers import meter_samples

AT = datetime(2025, 6, 2, 8, 0, 1, 123000, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


def fields(s: Sample) -> tuple[object, ...]:
    return (s.at, s.measurand, s.phase, s.location, s.context, s.unit, s.value, s.raw, s.signed)


def test_sampled_values_are_normalised_and_keep_what_was_sent() -> None:
    signed_text = "OCMF|{...}|{SD:3045...}"
    signed = {"format": "SignedData", "data": signed_text}
    samples, offset_missing = meter_samples(
        [
            {
                "timestamp": "2025-06-02T10:00:01.123+02:00",
                "sampledValue": [
                    {"value": "12.5", "measurand": REGISTER, "unit": "kWh", "context": "Sample.Periodic"},
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "100"},  # 1.6 defaults: the import register, in Wh
                    {"value": "5", "measurand": "Energy.Active.Export.Register"},
                    {"value": "16.1", "measurand": "Current.Import", "phase": "L1"},
                    {"value": "3", "measurand": "Energy.Reactive.Import.Register", "unit": "kvarh"},
                    {"value": "2", "measurand": "Power.Reactive.Import", "unit": "kvar", "location": "Body"},
                    {"value": signed_text, "format": "SignedData", "unit": "kWh"},
                    {"value": "n/a", "measurand": "Voltage", "unit": "V"},
                    {"value": "n/a", "unit": "kWh"},
                    {"value": "1e3", "format": "Raw", "location": "Outlet"},
                    {"value": 42, "measurand": "SoC", "unit": "Percent", "location": "EV"},
                    {"value": " 7 ", "measurand": "Temperature", "unit": "Celsius"},
                ],
            },
            {"timestamp": "2025-06-02T08:00:02z"},  # an entry without values
            {"timestamp": "2025-06-02T08:00:03", "sampledValue": [{"value": "1"}]},
        ]
    )
    later = datetime(2025, 6, 2, 8, 0, 3, tzinfo=UTC)
    assert offset_missing  # the last entry's timestamp has no offset: read as UTC, and flagged
    assert [fields(s) for s in samples] == [
        (AT, REGISTER, None, None, "Sample.Periodic", "Wh", 12500.0, "12.5", None),
        (AT, "Power.Active.Import", None, None, None, "W", 7200.0, "7.2", None),
        (AT, REGISTER, None, None, None, "Wh", 100.0, "100", None),
        (AT, "Energy.Active.Export.Register", None, None, None, "Wh", 5.0, "5", None),
        (AT, "Current.Import", "L1", None, None, None, 16.1, "16.1", None),
        (AT, "Energy.Reactive.Import.Register", None, None, None, "varh", 3000.0, "3", None),
        (AT, "Power.Reactive.Import", None, "Body", None, "var", 2000.0, "2", None),
        (AT, REGISTER, None, None, None, "Wh", None, signed_text, signed),
        (AT, "Voltage", None, None, None, "V", None, "n/a", None),
        (AT, REGISTER, None, None, None, "Wh", None, "n/a", None),
        (AT, REGISTER, None, "Outlet", None, "Wh", 1000.0, "1e3", None),
        (AT, "SoC", None, "EV", None, "Percent", 42.0, "42", None),
        (AT, "Temperature", None, None, None, "Celsius", 7.0, " 7 ", None),
        (later, REGISTER, None, None, None, "Wh", 1.0, "1", None),
    ]
    # The values of one entry share one datetime (the bulk writer converts it once per entry).
    assert len({id(s.at) for s in samples[:13]}) == 1
    assert [s.register_wh for s in samples] == [12500, None, 100, None, None, None, None, None, None, None,
                                                1000, None, None, 1]  # fmt: skip
    assert last_register(samples) == (1, later)


def test_timestamps_are_read_in_utc_and_an_unreadable_one_is_invalid_input() -> None:
    samples, offset_missing = meter_samples(
        [{"timestamp": " 2025-06-02T10:00:01.123+02:00 ", "sampledValue": [{"value": "1"}]}]
    )
    assert samples[0].at == AT and samples[0].at.tzinfo is UTC and not offset_missing
    with pytest.raises(InvalidInput):
        meter_samples([{"timestamp": "2025-13-01T00:00:00Z", "sampledValue": [{"value": "1"}]}])


@pytest.mark.parametrize("raw", ["NaN", "nan", "inf", "-Infinity", "1e999"])
def test_a_value_that_is_no_finite_number_is_kept_as_sent_but_not_read(raw: str) -> None:
    sample = reading(AT, raw, unit="kWh")
    assert (sample.value, sample.raw, sample.unit) == (None, raw, "Wh")
    assert last_register([sample]) is None


def reading(at: datetime, value: str, **sv: Any) -> Sample:
    return normalise(at, sv.pop("measurand", REGISTER), sv.pop("unit", None), value, **sv)


def test_the_register_is_the_whole_chargers_latest_import_reading() -> None:
    t1, t2 = AT, AT + timedelta(minutes=1)
    assert last_register([]) is None
    assert last_register([reading(t1, "5", measurand="Power.Active.Import")]) is None
    assert last_register([reading(t1, "abc")]) is None
    assert last_register([reading(t1, "5", phase="L1"), reading(t1, "6", location="EV")]) is None
    assert last_register([reading(t2, "2.5", unit="kWh", location="Outlet"), reading(t1, "9")]) == (2500, t2)
    # Two readings at one time: the later in the message wins.
    assert last_register([reading(t1, "7"), reading(t1, "8")]) == (8, t1)
    assert last_register([reading(t1, "7.6")]) == (8, t1)


# What a charger may put in a sampled value (1.6 enums, and values that do and do not parse).
_MEASURANDS = st.sampled_from([REGISTER, "Energy.Active.Export.Register", "Energy.Active.Import.Interval",
                               "Power.Active.Import", "Current.Import", "Voltage", "SoC", "", "Frequency"])  # fmt: skip
_UNITS = st.sampled_from(["Wh", "kWh", "W", "kW", "varh", "kvarh", "var", "kvar", "A", "V", "Percent", "K"])
_VALUES = st.one_of(
    st.sampled_from(["0", "-3", "12.5", "1e3", " 7 ", "1_000", "abc", "", "12345678901234567890"]),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**12), 10**12),
    st.text(max_size=8),
)
_SAMPLED_VALUE = st.fixed_dictionaries(
    {"value": _VALUES},
    optional={
        "measurand": _MEASURANDS,
        "unit": _UNITS,
        "context": st.sampled_from(["Sample.Periodic", "Transaction.Begin", "Sample.Clock"]),
        "phase": st.sampled_from(["L1", "L2-N", "N"]),
        "location": st.sampled_from(["Outlet", "Body", "EV", "Inlet"]),
        "format": st.sampled_from(["Raw", "SignedData"]),
    },
)
_SCALE = {"kWh": ("Wh", 1000.0), "kvarh": ("varh", 1000.0), "kW": ("W", 1000.0), "kvar": ("var", 1000.0)}


def expected(at: datetime, sv: dict[str, Any]) -> tuple[object, ...]:
    """The rules, spelled out plainly: 1.6 defaults, units scaled to base units, raw kept as sent."""
    raw = str(sv["value"])
    measurand = sv.get("measurand") or REGISTER
    unit = sv.get("unit")
    if unit is None and measurand.startswith("Energy.Active"):
        unit = "Wh"
    signed = {"format": "SignedData", "data": raw} if sv.get("format") == "SignedData" else None
    value: float | None = None
    if signed is None:
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is not None and not math.isfinite(value):  # "NaN", "inf": not a reading
            value = None
    if unit in _SCALE:
        unit, factor = _SCALE[unit]
        value = value * factor if value is not None else None
    return (at, measurand, sv.get("phase"), sv.get("location"), sv.get("context"), unit, value, raw, signed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_SAMPLED_VALUE, max_size=6), min_size=1, max_size=3))
def test_every_sampled_value_follows_the_rules(entries: list[list[dict[str, Any]]]) -> None:
    times = [AT + timedelta(seconds=i) for i in range(len(entries))]
    payload = [
        {"timestamp": at.astimezone(CEST).isoformat(), "sampledValue": svs}
        for at, svs in zip(times, entries, strict=True)
    ]
    samples, offset_missing = meter_samples(payload)
    assert not offset_missing
    assert [fields(s) for s in samples] == [
        expected(at, sv) for at, svs in zip(times, entries, strict=True) for sv in svs
    ]
    # The register: the latest whole-charger import reading, by the properties every sample has.
    registers = [(s.register_wh, s.at) for s in samples if s.register_wh is not None]
    best = None
    for wh, at in registers:
        if best is None or at >= best[1]:
            best = (wh, at)
    assert last_register(samples) == best
