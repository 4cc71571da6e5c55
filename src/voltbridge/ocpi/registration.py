"""The credentials handshake in both directions, credential rotation and unregistration.

Token names follow the spec: A is handed over out of band, B is issued by the platform that starts
the handshake (the credentials Sender), C by the one that answers (the Receiver). In the registry the
tokens are named by direction instead: `token_incoming` (partners send it to us) and
`token_outgoing` (we send it), which is where implementations usually go wrong (OCPI-NOTES 3.2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict
from voltbridge.ocpi.client import Credentials, OcpiClient
from voltbridge.ocpi.errors import (
    ClientApiUnusable,
    InvalidParameters,
    MethodNotAllowed,
    NoMatchingEndpoints,
    PartnerCallFailed,
    UnsupportedVersion,
)
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.partners import (
    REGISTERED,
    SUSPENDED,
    UNREGISTERED,
    PartnerRegistry,
    endpoint_url,
    new_credentials_token,
)
from voltbridge.ocpi.transport import TokenEncoding
from voltbridge.ocpi.types import ModuleID
from voltbridge.ocpi.v211 import models as v211
from voltbridge.ocpi.v221.core import Credentials as Credentials221
from voltbridge.ocpi.v221.core import VersionDetails
from voltbridge.store.models.ocpi import OcpiPartner

log = logging.getLogger(__name__)

# Newest first: the first one both sides have is chosen.
VERSION_PREFERENCE = ("2.2.1", "2.1.1")


@dataclass(frozen=True, slots=True)
class PartnerApi:
    """What a partner's versions and version details told us."""

    version: str
    endpoints: list[dict[str, Any]]


def choose_version(ours: Sequence[str], theirs: Sequence[str]) -> str | None:
    """The newest version both sides support (deprecated 2.0, 2.1 and 2.2 are never chosen)."""
    for version in VERSION_PREFERENCE:
        if version in ours and version in theirs:
            return version
    return None


class Registration:
    """Registers, updates and unregisters partners, as Sender and as Receiver of the credentials module."""

    def __init__(
        self,
        registry: PartnerRegistry,
        client: OcpiClient,
        options: OcpiOptions,
        clock: Clock,
        versions_url: Callable[[], str],
    ) -> None:
        self._registry = registry
        self._client = client
        self._options = options
        self._clock = clock
        self._versions_url = versions_url

    def our_credentials(self, token: str, version: str | None) -> dict[str, Any]:
        """Our credentials object in the partner's version, carrying `token` for it to use."""
        business: dict[str, Any] = {"name": self._options.business_name}
        if self._options.website:
            business["website"] = self._options.website
        if version == "2.1.1":
            return v211.Credentials(
                token=token,
                url=self._versions_url(),
                business_details=business,
                party_id=self._options.party_id,
                country_code=self._options.country_code,
            ).to_wire()
        return Credentials221.model_validate(
            {
                "token": token,
                "url": self._versions_url(),
                "roles": [
                    {
                        "role": "CPO",
                        "business_details": business,
                        "party_id": self._options.party_id,
                        "country_code": self._options.country_code,
                    }
                ],
            }
        ).to_wire()

    async def fetch_partner_api(
        self, versions_url: str, credentials: Credentials, partner_id: int
    ) -> PartnerApi:
        """GET the partner's versions and the details of the version we choose (errors 3001/3002/3003)."""
        try:
            reply = await self._client.call(
                "GET", versions_url, credentials, partner_id=partner_id, module="versions"
            )
        except PartnerCallFailed as exc:
            raise ClientApiUnusable(
                f"could not read the partner's versions at {versions_url}: {exc}"
            ) from exc
        listed: dict[str, str] = {}
        for item in reply.data if isinstance(reply.data, list) else []:
            if isinstance(item, dict) and item.get("version") and item.get("url"):
                listed[str(item["version"])] = str(item["url"])
        version = choose_version(self._options.versions, list(listed))
        if version is None:
            raise UnsupportedVersion(
                f"no common OCPI version: the partner has {sorted(listed) or 'none'}, we have "
                f"{', '.join(self._options.versions)}"
            )
        details_credentials = Credentials(credentials.token, credentials.encoding, version)
        try:
            details = await self._client.call(
                "GET", listed[version], details_credentials, partner_id=partner_id, module="versions"
            )
        except PartnerCallFailed as exc:
            raise ClientApiUnusable(f"could not read the partner's {version} endpoints: {exc}") from exc
        try:
            if version == "2.1.1":
                parsed11 = v211.VersionDetails.model_validate(details.data)
                endpoints = [
                    {"identifier": e.identifier, "role": None, "url": e.url} for e in parsed11.endpoints
                ]
            else:
                parsed = VersionDetails.model_validate(details.data)
                endpoints = [
                    {"identifier": e.identifier, "role": str(e.role), "url": e.url} for e in parsed.endpoints
                ]
        except ValidationError as exc:
            raise ClientApiUnusable(f"the partner's {version} version details are malformed: {exc}") from exc
        if not any(e["identifier"] == ModuleID.CREDENTIALS for e in endpoints):
            raise NoMatchingEndpoints(f"the partner's {version} endpoints have no credentials module")
        return PartnerApi(version, endpoints)

    # -- we start the handshake (credentials Sender) ---------------------------------------------

    async def register(self, partner_id: int) -> OcpiPartner:
        """Register with a partner whose versions URL and token A we were given.

        Token B (ours) is stored before the POST because the partner calls our versions with it inside
        that POST; if anything fails, B is withdrawn and the partner stays pending with the error noted.
        """
        partner = await self._registry.get(partner_id)
        if partner.status in (REGISTERED, SUSPENDED):
            raise Conflict(f"OCPI partner {partner_id} is already registered; rotate or unregister instead")
        if not partner.versions_url or not partner.token_outgoing:
            raise Conflict(f"OCPI partner {partner_id} has no versions_url and token A to register with")
        token_a = partner.token_outgoing
        encoding = TokenEncoding(partner.token_encoding)
        token_b = new_credentials_token()
        try:
            api = await self.fetch_partner_api(
                partner.versions_url, Credentials(token_a, encoding, None), partner_id
            )
            await self._registry.update(partner_id, token_incoming=token_b, version=api.version)
            url = endpoint_url_from(api.endpoints, ModuleID.CREDENTIALS)
            reply = await self._client.call(
                "POST",
                url,
                Credentials(token_a, encoding, api.version),
                partner_id=partner_id,
                module="credentials",
                json=self.our_credentials(token_b, api.version),
            )
            token_c, roles = self._read_credentials(reply.data, api.version)
        except Exception as exc:
            await self._registry.update(partner_id, token_incoming=None, last_error=str(exc))
            raise
        return await self._registry.update(
            partner_id,
            status=REGISTERED,
            token_outgoing=token_c,
            token_encoding=str(reply.encoding if encoding is TokenEncoding.AUTO else encoding),
            version=api.version,
            endpoints=api.endpoints,
            roles=roles,
            registered_at=self._clock.now(),
            last_error=None,
        )

    async def rotate(self, partner_id: int) -> OcpiPartner:
        """Issue a new token to a registered partner with a credentials PUT (and take its new token).

        The old incoming token stays valid until the PUT succeeded; if it fails, the new one is
        withdrawn (rollback, citrineos-core PR #1086).
        """
        partner = await self._registry.get(partner_id)
        if partner.status != REGISTERED:
            raise Conflict(f"OCPI partner {partner_id} is {partner.status}; only a registered one can rotate")
        url = endpoint_url(partner, ModuleID.CREDENTIALS, None)
        if url is None:
            raise Conflict(f"OCPI partner {partner_id} has no credentials endpoint")
        old = partner.token_incoming
        new = new_credentials_token()
        await self._registry.update(partner_id, token_incoming=new, token_incoming_previous=old)
        try:
            reply = await self._client.call(
                "PUT",
                url,
                Credentials(
                    partner.token_outgoing or "", TokenEncoding(partner.token_encoding), partner.version
                ),
                partner_id=partner_id,
                module="credentials",
                json=self.our_credentials(new, partner.version),
            )
            token, roles = self._read_credentials(reply.data, partner.version)
        except Exception as exc:
            await self._registry.update(
                partner_id,
                token_incoming=old,
                token_incoming_previous=None,
                last_error=f"rotation failed: {exc}",
            )
            raise
        return await self._registry.update(
            partner_id, token_outgoing=token, roles=roles, token_incoming_previous=None, last_error=None
        )

    async def unregister(self, partner_id: int) -> OcpiPartner:
        """Tell the partner we stop (credentials DELETE, best effort) and stop using its tokens."""
        partner = await self._registry.get(partner_id)
        url = endpoint_url(partner, ModuleID.CREDENTIALS, None)
        error = None
        if partner.status in (REGISTERED, SUSPENDED) and url and partner.token_outgoing:
            try:
                await self._client.call(
                    "DELETE",
                    url,
                    Credentials(
                        partner.token_outgoing, TokenEncoding(partner.token_encoding), partner.version
                    ),
                    partner_id=partner_id,
                    module="credentials",
                )
            except PartnerCallFailed as exc:
                error = f"the partner did not confirm unregistration: {exc}"
        return await self._registry.update(
            partner_id,
            status=UNREGISTERED,
            token_incoming=None,
            token_incoming_previous=None,
            token_a=None,
            last_error=error,
        )

    # -- the partner starts the handshake (we are the credentials Receiver) ----------------------

    async def accept_registration(self, partner: OcpiPartner, body: object, version: str) -> dict[str, Any]:
        """Answer a credentials POST made with token A: fetch the partner's API with its token B,
        issue token C, and retire token A."""
        if partner.status in (REGISTERED, SUSPENDED):
            raise MethodNotAllowed("already registered: use PUT to update or DELETE to unregister")
        token_b, url, roles = self._read_request(body, version)
        api = await self.fetch_partner_api(
            url, Credentials(token_b, TokenEncoding(partner.token_encoding), None), partner.id
        )
        if api.version != version:
            # The partner POSTed to our `version` endpoint; it must be what both support.
            raise UnsupportedVersion(
                f"registration came on {version} but the common version is {api.version}"
            )
        token_c = new_credentials_token()
        await self._registry.update(
            partner.id,
            status=REGISTERED,
            token_a=None,
            token_incoming=token_c,
            token_outgoing=token_b,
            versions_url=url,
            version=api.version,
            endpoints=api.endpoints,
            roles=roles,
            registered_at=self._clock.now(),
            last_error=None,
        )
        return self.our_credentials(token_c, version)

    async def accept_update(self, partner: OcpiPartner, body: object, version: str) -> dict[str, Any]:
        """Answer a credentials PUT: re-fetch versions and endpoints with the partner's new token
        (citrineos-core PR #1083), then issue a new token for it."""
        if partner.status not in (REGISTERED, SUSPENDED):
            raise MethodNotAllowed("not registered: POST credentials first")
        token, url, roles = self._read_request(body, version)
        api = await self.fetch_partner_api(
            url, Credentials(token, TokenEncoding(partner.token_encoding), None), partner.id
        )
        new_token = new_credentials_token()
        await self._registry.update(
            partner.id,
            token_incoming=new_token,
            token_incoming_previous=None,
            token_outgoing=token,
            versions_url=url,
            version=api.version,
            endpoints=api.endpoints,
            roles=roles,
            last_error=None,
        )
        return self.our_credentials(new_token, api.version)

    async def accept_unregister(self, partner: OcpiPartner) -> None:
        """Answer a credentials DELETE."""
        if partner.status not in (REGISTERED, SUSPENDED):
            raise MethodNotAllowed("not registered")
        await self._registry.update(
            partner.id,
            status=UNREGISTERED,
            token_incoming=None,
            token_incoming_previous=None,
            token_outgoing=None,
        )

    # -- reading credentials objects -------------------------------------------------------------

    @staticmethod
    def _read_request(body: object, version: str) -> tuple[str, str, list[dict[str, Any]]]:
        try:
            return Registration._parse(body, version)
        except ValidationError as exc:
            raise InvalidParameters(f"the credentials object is invalid: {exc}") from exc

    @staticmethod
    def _read_credentials(data: object, version: str | None) -> tuple[str, list[dict[str, Any]]]:
        try:
            token, _, roles = Registration._parse(data, version)
        except ValidationError as exc:
            raise PartnerCallFailed(
                f"the partner's credentials answer is invalid: {exc}", transient=False
            ) from exc
        return token, roles

    @staticmethod
    def _parse(data: object, version: str | None) -> tuple[str, str, list[dict[str, Any]]]:
        if version == "2.1.1":
            old = v211.Credentials.model_validate(data)
            role = {
                "role": "EMSP",
                "business_details": old.business_details.to_wire(),
                "party_id": old.party_id,
                "country_code": old.country_code,
            }
            return old.token, old.url, [role]
        new = Credentials221.model_validate(data)
        return new.token, new.url, [r.to_wire() for r in new.roles]


def endpoint_url_from(endpoints: list[dict[str, Any]], module: ModuleID) -> str:
    """The URL of a module among fetched endpoints (NoMatchingEndpoints if missing)."""
    for endpoint in endpoints:
        if endpoint.get("identifier") == module and endpoint.get("url"):
            return str(endpoint["url"])
    raise NoMatchingEndpoints(f"the partner has no {module} endpoint")
