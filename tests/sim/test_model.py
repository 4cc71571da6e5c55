"""The simulator's rules without a socket: configuration keys, meter, profiles, local list, latency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest

from voltbridge.sim import ChargerConfig, LatencyHistogram
from voltbridge.sim.config_store import default_configuration
from voltbridge.sim.local_auth import LocalAuthList, TagInfo
from voltbridge.sim.metering import Meter
from voltbridge.sim.smart_charging import ChargingProfile, ChargingProfiles, ProfileLimits
from voltbridge.sim.state import Reservation
from voltbridge.sim.station import Station
from voltbridge.sim.types import JsonObject

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = ProfileLimits(
    max_stack_level=10, max_periods=24, max_installed=20, allowed_units=frozenset({"A", "W"})
)


def test_configuration_store_checks_values_by_kind_and_keeps_the_spec_spelling() -> None:
    changes: list[str] = []
    store = default_configuration(ChargerConfig(connectors=3, meter_interval=0.5), on_change=changes.append)
    assert store.get("numberofconnectors") == "3"
    assert store.get("MeterValueSampleInterval") == "0.5"
    assert store.change("LocalPreAuthorize", "TRUE") == "Accepted"
    assert store.flag("LocalPreAuthorize") is True
    assert store.change("LocalPreAuthorize", "yes") == "Rejected"
    assert store.change("ResetRetries", "-1") == "Rejected"
    assert store.change("MeterValuesSampledData", " SoC , Voltage ") == "Accepted"
    assert store.items("MeterValuesSampledData") == ["SoC", "Voltage"]
    assert store.change("SupportedFeatureProfiles", "Core") == "Rejected"
    assert changes == ["LocalPreAuthorize", "MeterValuesSampledData"]
    known, unknown = store.entries(["heartbeatINTERVAL", "Missing"])
    assert [e.key for e in known] == ["HeartbeatInterval"] and unknown == ["Missing"]


def test_meter_rises_at_the_offered_power_and_tapers_near_full() -> None:
    meter = Meter(max_power_w=11_000, phases=3, voltage_v=230, battery_capacity_wh=10_000, register_wh=1_000)
    meter.start_charging(0.0, soc_percent=50.0, limit_w=None)
    meter.advance(360.0, None)  # six minutes at 11 kW
    assert meter.register == 1_000 + 1_100
    assert meter.soc_percent == pytest.approx(61.0)
    meter.advance(370.0, 4_140.0)  # a 6 A limit on three phases
    assert meter.power_w == pytest.approx(4_140.0)
    meter.advance(36_000.0, None)  # hours later the battery is full and draws nothing
    assert meter.soc_percent == pytest.approx(100.0, abs=0.5)
    assert meter.power_w < 200
    meter.stop_charging(36_001.0)
    assert meter.power_w == 0 and meter.soc_percent is None
    sample = meter.sample(["Energy.Active.Import.Register", "SoC"], context="Trigger", timestamp="t")
    values = cast(list[JsonObject], sample["sampled_value"])
    assert [v["measurand"] for v in values] == ["Energy.Active.Import.Register"]


def profile(
    profile_id: int, purpose: str, periods: list[tuple[int, float]], **extra: object
) -> dict[str, object]:
    return {
        "charging_profile_id": profile_id,
        "stack_level": extra.pop("stack_level", 0),
        "charging_profile_purpose": purpose,
        "charging_profile_kind": extra.pop("kind", "Absolute"),
        "charging_schedule": {
            "charging_rate_unit": extra.pop("unit", "W"),
            "charging_schedule_period": [{"start_period": s, "limit": Decimal(str(v))} for s, v in periods],
            **extra,
        },
    }


def test_composite_schedule_takes_the_highest_stack_level_and_the_charge_point_cap() -> None:
    profiles = ChargingProfiles(connectors=2, voltage_v=230, phases=3, max_power_w=11_000)
    start = T0.isoformat()
    base = ChargingProfile.from_payload(
        0, profile(1, "TxDefaultProfile", [(0, 7_000), (3_600, 9_000)], start_schedule=start), installed_at=T0
    )
    peak = ChargingProfile.from_payload(
        1,
        profile(2, "TxDefaultProfile", [(0, 4_000)], stack_level=1, start_schedule=start, duration=600),
        installed_at=T0,
    )
    cap = ChargingProfile.from_payload(
        0, profile(3, "ChargePointMaxProfile", [(0, 8_000)], start_schedule=start), installed_at=T0
    )
    for item in (base, peak, cap):
        assert profiles.install(item, LIMITS, active_transaction=None) == "Accepted"
    periods = profiles.composite(1, start=T0, duration=7_200, unit="W", tx_start=None)
    assert [(p.start_period, p.limit) for p in periods] == [(0, 4_000.0), (600, 7_000.0), (3_600, 8_000.0)]
    amps = profiles.composite(2, start=T0, duration=60, unit="A", tx_start=None)
    assert [(p.start_period, p.limit) for p in amps] == [(0, round(7_000 / 690, 1))]
    assert profiles.clear(profile_id=None, connector_id=0, purpose=None, stack_level=None)
    assert [p.id for p in profiles.profiles] == [2]


def test_recurring_profile_repeats_every_day() -> None:
    profiles = ChargingProfiles(connectors=1, voltage_v=230, phases=1, max_power_w=7_360)
    night = ChargingProfile.from_payload(
        1,
        profile(
            5,
            "TxDefaultProfile",
            [(0, 2_000), (6 * 3_600, 7_000)],
            kind="Recurring",
            recurrency_kind="Daily",
            start_schedule=(T0 - timedelta(days=3)).isoformat(),
        ),
        installed_at=T0,
    )
    assert profiles.install(night, LIMITS, active_transaction=None) == "Accepted"
    assert profiles.limit_w(1, T0 + timedelta(hours=1), None) == 2_000
    assert profiles.limit_w(1, T0 + timedelta(hours=7), None) == 7_000
    assert profiles.limit_w(1, T0 + timedelta(days=1, hours=1), None) == 2_000


def test_profiles_that_break_the_rules_are_rejected() -> None:
    profiles = ChargingProfiles(connectors=2, voltage_v=230, phases=3, max_power_w=11_000)
    with pytest.raises(ValueError, match="start at 0"):
        ChargingProfile.from_payload(1, profile(1, "TxDefaultProfile", [(60, 1_000)]), installed_at=T0)
    tx_profile = ChargingProfile.from_payload(1, profile(2, "TxProfile", [(0, 1_000)]), installed_at=T0)
    assert profiles.install(tx_profile, LIMITS, active_transaction=None) == "Rejected"
    assert profiles.install(tx_profile, LIMITS, active_transaction=7) == "Accepted"
    elsewhere = ChargingProfile.from_payload(3, profile(3, "TxDefaultProfile", [(0, 1_000)]), installed_at=T0)
    assert profiles.install(elsewhere, LIMITS, active_transaction=None) == "Rejected"
    only_amps = ProfileLimits(10, 24, 20, frozenset({"A"}))
    watts = ChargingProfile.from_payload(1, profile(4, "TxDefaultProfile", [(0, 1_000)]), installed_at=T0)
    assert profiles.install(watts, only_amps, active_transaction=None) == "Rejected"


def test_local_list_full_and_differential_updates() -> None:
    local = LocalAuthList()
    full: list[JsonObject] = [
        {"id_tag": "A", "id_tag_info": {"status": "Accepted"}},
        {"id_tag": "B", "id_tag_info": {"status": "Blocked"}},
    ]
    assert (
        local.update(version=3, update_type="Full", items=full, max_length=10, max_per_message=10)
        == "Accepted"
    )
    assert local.update(
        version=3, update_type="Differential", items=[], max_length=10, max_per_message=10
    ) == ("VersionMismatch")
    too_many: list[JsonObject] = [{"id_tag": str(n), "id_tag_info": {"status": "Accepted"}} for n in range(5)]
    assert local.update(
        version=4, update_type="Differential", items=too_many, max_length=4, max_per_message=10
    ) == ("Failed")
    assert local.update(
        version=4, update_type="Full", items=[{"id_tag": "C"}], max_length=10, max_per_message=10
    ) == ("Failed")
    assert (local.version, set(local.entries)) == (3, {"A", "B"})
    expired = TagInfo("Accepted", expiry_date=(T0 - timedelta(seconds=1)).isoformat())
    assert expired.status_at(T0) == "Expired"


def test_station_reservations_hold_a_connector_for_their_tag() -> None:
    station = Station("CP", ChargerConfig(connectors=2), on_config_change=lambda key: None)
    expiry = T0 + timedelta(hours=1)
    assert station.reserve(Reservation(1, 1, "MINE", expiry)) == "Accepted"
    assert station.connector(1).status == "Reserved"
    assert not station.can_start(1, "OTHER") and station.can_start(1, "MINE")
    assert station.pick_connector("MINE") == 1 and station.pick_connector("OTHER") == 2
    # A reservation for "any connector" keeps the last free one for its holder.
    assert station.reserve(Reservation(2, 0, "ANY", expiry)) == "Accepted"
    assert not station.can_start(2, "OTHER") and station.can_start(2, "ANY")
    assert station.reserve(Reservation(3, 9, "X", expiry)) == "Rejected"
    assert station.cancel_reservation(1) is not None and station.connector(1).status == "Available"


def test_latency_percentiles_are_within_two_percent() -> None:
    histogram = LatencyHistogram()
    for n in range(1, 1001):
        histogram.record(n / 1000)  # 1 ms … 1 s
    summary = histogram.summary()
    assert summary.count == 1000
    assert summary.p50 == pytest.approx(0.5, rel=0.02)
    assert summary.p99 == pytest.approx(0.99, rel=0.02)
    assert summary.max == 1.0 and summary.mean == pytest.approx(0.5005)
    other = LatencyHistogram()
    other.record(5.0)
    histogram.merge(other)
    assert histogram.count == 1001 and histogram.percentile(1.0) == 5.0
    assert LatencyHistogram().summary().p99 == 0.0
