"""What an upstream may ask of the charger: its role's rights and the guard list (MULTIPLEXER.md).

    role filter   Data & Control may not start or stop transactions.
    guard list    nobody may change the charger's connection to voltbridge (backend URL, security
                  profile, AuthorizationKey, certificates); only the authority may touch the
                  charger's authorization data (SendLocalList, ClearCache).

A refusal is answered on the leg with `Rejected` when the action's answer has that status, and with
a CALLERROR SecurityError otherwise; it never reaches the charger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from voltbridge.core.upstreams import Role

# Every CALL a central system may send to a 1.6 charger (OCPP 1.6 edition 2, and the 1.6 security
# whitepaper). Anything else from an upstream is not a command and is answered NotImplemented.
CENTRAL_SYSTEM_ACTIONS_16 = frozenset(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)

START_STOP = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})
AUTHORITY_ONLY = frozenset({"SendLocalList", "ClearCache"})
# Installing or removing certificates changes who the charger trusts and how it proves itself.
CERTIFICATE_ACTIONS = frozenset({"CertificateSigned", "InstallCertificate", "DeleteCertificate"})

# Actions whose answer can say `Rejected`; the others are refused with a CALLERROR.
REJECTABLE = frozenset(
    {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ChangeConfiguration",
        "ClearCache",
        "CertificateSigned",
        "InstallCertificate",
        "ExtendedTriggerMessage",
    }
)

# Configuration keys that hold the connection to voltbridge. Names are compared lower-case without
# punctuation. 1.6 standardises only AuthorizationKey and SecurityProfile; vendors name the backend
# URL, host and identity in many ways, so parts of names are matched too.
GUARDED_KEYS = frozenset(
    {
        "authorizationkey",
        "basicauthpassword",
        "securityprofile",
        "cponame",
        "chargepointid",
        "chargeboxid",
        "additionalrootcertificatecheck",
        "certificatesignedmaxchainsize",
        "certificatestoremaxlength",
        "serverport",
        "ocppport",
        "backendport",
    }
)
GUARDED_KEY_PARTS = (
    "url",
    "uri",  # also catches "security…"
    "host",
    "centralsystem",
    "backend",
    "csms",
    "ocppserver",
    "serveraddress",
    "identity",
    "certificate",
    "password",
    "authorizationkey",
    "securityprofile",
    "tls",
    "ssl",
)

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a CALL from an upstream is refused, and how to answer it."""

    action: str
    reason: str

    @property
    def result(self) -> dict[str, Any] | None:
        """The CALLRESULT payload to answer with, or None to answer with a CALLERROR SecurityError."""
        return {"status": "Rejected"} if self.action in REJECTABLE else None


def is_command(action: str) -> bool:
    """Whether a central system may send this action to a 1.6 charger at all."""
    return action in CENTRAL_SYSTEM_ACTIONS_16


def guarded_key(key: str) -> bool:
    """Whether a configuration key belongs to the charger's connection to voltbridge."""
    name = _NOT_ALNUM.sub("", key.lower())
    return name in GUARDED_KEYS or any(part in name for part in GUARDED_KEY_PARTS)


def check(role: Role, action: str, payload: dict[str, Any]) -> Refusal | None:
    """The refusal for this CALL from an upstream in `role`, or None if it may reach the charger."""
    if action in START_STOP and role is not Role.BILLING:
        return Refusal(action, f"a {role.value} upstream may not start or stop transactions")
    if action in AUTHORITY_ONLY and role is not Role.BILLING:
        return Refusal(action, f"only the authorization authority may send {action}")
    if action in CERTIFICATE_ACTIONS:
        return Refusal(action, "certificates of the charger's connection are managed by voltbridge")
    if action == "ExtendedTriggerMessage" and payload.get("requestedMessage") == "SignChargePointCertificate":
        return Refusal(action, "certificates of the charger's connection are managed by voltbridge")
    if action == "ChangeConfiguration" and guarded_key(str(payload.get("key", ""))):
        return Refusal(action, f"configuration key {payload.get('key')!r} holds the connection to voltbridge")
    return None
