"""The role filter, the guard list and the id rewriting, as plain functions."""

from __future__ import annotations

import pytest

from voltbridge.core.upstreams import Role
from voltbridge.proxy.ids import TransactionMap, UnknownTransaction, down, up
from voltbridge.proxy.policy import check, guarded_key, is_command
from voltbridge.proxy.queue import Outgoing, SendQueue


@pytest.mark.parametrize(
    "key",
    [
        "AuthorizationKey",
        "SecurityProfile",
        "CentralSystemURL",
        "centralSystemUrl",
        "OcppServerUrl",
        "BackendURL",
        "ServerHost",
        "ChargeBoxIdentity",
        "CpoName",
        "BasicAuthPassword",
        "Csms_Url",
        "WebSocketURI",
    ],
)
def test_connection_keys_are_guarded(key: str) -> None:
    assert guarded_key(key)
    refusal = check(Role.BILLING, "ChangeConfiguration", {"key": key, "value": "x"})
    assert refusal is not None and refusal.result == {"status": "Rejected"}


@pytest.mark.parametrize(
    "key", ["HeartbeatInterval", "MeterValueSampleInterval", "WebSocketPingInterval", "LocalAuthListEnabled"]
)
def test_ordinary_keys_pass(key: str) -> None:
    assert not guarded_key(key)
    assert check(Role.DATA_CONTROL, "ChangeConfiguration", {"key": key, "value": "1"}) is None


def test_data_control_may_not_start_stop_or_manage_authorization() -> None:
    for action in ("RemoteStartTransaction", "RemoteStopTransaction", "ClearCache"):
        refusal = check(Role.DATA_CONTROL, action, {})
        assert refusal is not None and refusal.result == {"status": "Rejected"}
    refusal = check(Role.DATA_CONTROL, "SendLocalList", {})
    assert refusal is not None and refusal.result is None  # no Rejected status: a SecurityError
    for action in ("RemoteStartTransaction", "RemoteStopTransaction", "ClearCache", "SendLocalList"):
        assert check(Role.BILLING, action, {}) is None


def test_certificate_actions_are_refused_to_everyone() -> None:
    for action in ("InstallCertificate", "CertificateSigned", "DeleteCertificate"):
        assert check(Role.BILLING, action, {}) is not None
    assert check(Role.BILLING, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    assert check(Role.BILLING, "ExtendedTriggerMessage", {"requestedMessage": "StatusNotification"}) is None
    assert (
        check(
            Role.DATA_CONTROL,
            "GetInstalledCertificateIds",
            {"certificateType": "CentralSystemRootCertificate"},
        )
        is None
    )


def test_only_central_system_actions_are_commands() -> None:
    assert is_command("Reset") and is_command("GetLog")
    assert not is_command("Heartbeat") and not is_command("StartTransaction") and not is_command("Frobnicate")


def test_ids_are_rewritten_both_ways() -> None:
    ids = TransactionMap()
    ids.loaded = True
    ids.learn(7, 1001)
    assert up({"transactionId": 7, "meterStop": 5}, 1001) == {"transactionId": 1001, "meterStop": 5}
    assert down("RemoteStopTransaction", {"transactionId": 1001}, ids) == {"transactionId": 7}
    profile = {"chargingProfileId": 1, "transactionId": 1001, "stackLevel": 0}
    assert (
        down("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}, ids)[
            "csChargingProfiles"
        ]["transactionId"]
        == 7
    )
    assert down("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {"stackLevel": 0}}, ids) == {
        "connectorId": 1,
        "csChargingProfiles": {"stackLevel": 0},
    }
    with pytest.raises(UnknownTransaction):
        down("RemoteStopTransaction", {"transactionId": 7}, ids)  # ours, not theirs
    with pytest.raises(UnknownTransaction):
        down("RemoteStopTransaction", {"transactionId": True}, ids)
    ids.close(7)
    with pytest.raises(UnknownTransaction):
        down("RemoteStopTransaction", {"transactionId": 1001}, ids)


def test_the_map_knows_pending_starts_and_everything_before_it_is_loaded() -> None:
    ids = TransactionMap()
    assert ids.knows(3)  # not loaded yet: decide when sending
    ids.loaded = True
    assert not ids.knows(3)
    ids.start_pending(3)
    assert ids.knows(3) and ids.is_pending(3)
    ids.learn(3, 99)
    assert ids.knows(3) and not ids.is_pending(3) and ids.ours(99) == 3


async def test_the_queue_drops_the_oldest_non_durable_message_only() -> None:
    queue = SendQueue(limit=2)
    durable = Outgoing("StartTransaction", {}, entry_id=1, transaction_id=1)
    queue.push(durable)
    first, second, third = (
        Outgoing("Heartbeat", {"n": 1}),
        Outgoing("Heartbeat", {"n": 2}),
        Outgoing("Heartbeat", {"n": 3}),
    )
    assert queue.push(first) is None
    assert queue.push(second) is None
    assert queue.push(third) is first
    assert [i.payload for i in queue.take_where(lambda i: False)] == [{}, {"n": 2}, {"n": 3}]
    queue.push(durable)
    assert queue.push(Outgoing("StartTransaction", {}, entry_id=1)) is None
    assert len(queue) == 1 and queue.durable == 1
    queue.merge_loaded(
        [Outgoing("MeterValues", {}, entry_id=0), Outgoing("StartTransaction", {}, entry_id=1)]
    )
    assert [i.entry_id for i in queue.take_where(lambda i: False)] == [0, 1]
