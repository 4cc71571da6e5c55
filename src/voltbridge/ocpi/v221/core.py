"""OCPI 2.2.1 Versions, Credentials and HubClientInfo objects."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from voltbridge.ocpi.types import (
    URL,
    CiString2,
    CiString3,
    CiString4,
    DateTime,
    InterfaceRole,
    ModuleID,
    OcpiModel,
    Role,
    String64,
    String100,
    VersionNumber,
)


class Version(OcpiModel):
    """One entry of the versions list."""

    version: VersionNumber
    url: URL


class Endpoint(OcpiModel):
    """One module endpoint in version details. `identifier` stays a string so custom modules parse."""

    identifier: str
    role: InterfaceRole
    url: URL

    @property
    def module(self) -> ModuleID | None:
        """The standard module this endpoint serves, or None for a custom one."""
        try:
            return ModuleID(self.identifier)
        except ValueError:
            return None


class VersionDetails(OcpiModel):
    """The endpoints of one version."""

    version: VersionNumber
    endpoints: list[Endpoint] = Field(min_length=1)


class ImageCategory(StrEnum):
    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class Image(OcpiModel):
    """A link to an image."""

    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString4
    width: int | None = Field(default=None, ge=0, le=99999)
    height: int | None = Field(default=None, ge=0, le=99999)


class BusinessDetails(OcpiModel):
    """Name, website and logo of a business."""

    name: String100
    website: URL | None = None
    logo: Image | None = None


class CredentialsRole(OcpiModel):
    """One role a platform plays, with its party."""

    role: Role
    business_details: BusinessDetails
    party_id: CiString3 = Field(min_length=3)
    country_code: CiString2 = Field(min_length=2)


class Credentials(OcpiModel):
    """The credentials object (2.2.1): the token the other side must use, our versions URL, our roles."""

    token: String64 = Field(min_length=1)
    url: URL
    roles: list[CredentialsRole] = Field(min_length=1)


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    """A party behind a hub and whether it is reachable."""

    party_id: CiString3
    country_code: CiString2
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
