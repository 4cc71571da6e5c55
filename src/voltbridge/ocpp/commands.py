"""The OCPP schema check for commands we send, as core's `CommandSchema` asks for it."""

from __future__ import annotations

from typing import Any

from voltbridge.core.errors import InvalidInput
from voltbridge.ocpp.protocol import OcppVersion
from voltbridge.ocpp.validation import ValidationFailed, Validators

# Messages only a charger sends; a backend never sends them as commands (DataTransfer goes both ways).
CHARGER_ONLY_16 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
        "LogStatusNotification",
    }
)


class OcppCommandSchema:
    """Checks an outgoing command against the station's OCPP version's schema."""

    def check(self, ocpp_version: str, action: str, payload: dict[str, Any]) -> None:
        try:
            version = OcppVersion(ocpp_version)
        except ValueError as exc:
            raise InvalidInput(f"unsupported OCPP version {ocpp_version!r}") from exc
        validators = Validators.for_version(version)
        if not validators.knows(action) or (version is OcppVersion.V16 and action in CHARGER_ONLY_16):
            raise InvalidInput(f"{action} is not a command a central system sends in {version.value}")
        try:
            validators.check_request(action, payload, lenient=False)
        except ValidationFailed as exc:
            raise InvalidInput(f"{action} payload is invalid: {exc.description}") from exc
