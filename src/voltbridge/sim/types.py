"""Shared type aliases: the OCPP 1.6 words the simulator uses, as typed literals.

The ``ocpp`` package ships its enums without type information, so its values are ``Any`` to mypy.
These literals carry the same spec words (their values are what goes on the wire) and let mypy check
every status we keep or answer.
"""

from __future__ import annotations

from typing import Literal

ConnectorStatus = Literal[
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
]
RegistrationStatus = Literal["Accepted", "Pending", "Rejected"]
AuthorizationStatus = Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"]
StopReason = Literal[
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
    "DeAuthorized",
]
ReadingContext = Literal[
    "Interruption.Begin",
    "Interruption.End",
    "Other",
    "Sample.Clock",
    "Sample.Periodic",
    "Transaction.Begin",
    "Transaction.End",
    "Trigger",
]
ConfigurationStatus = Literal["Accepted", "Rejected", "RebootRequired", "NotSupported"]
AvailabilityStatus = Literal["Accepted", "Rejected", "Scheduled"]
ReservationStatus = Literal["Accepted", "Faulted", "Occupied", "Rejected", "Unavailable"]
UpdateStatus = Literal["Accepted", "Failed", "NotSupported", "VersionMismatch"]
ChargingProfileStatus = Literal["Accepted", "Rejected", "NotSupported"]
ChargingRateUnit = Literal["A", "W"]
DiagnosticsStatus = Literal["Idle", "Uploaded", "UploadFailed", "Uploading"]
FirmwareStatus = Literal[
    "Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed", "Installing", "Installed"
]
TriggerableMessage = Literal[
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]

# A JSON object as the ``ocpp`` package hands it to handlers (snake_case keys) and takes it back.
JsonObject = dict[str, object]
