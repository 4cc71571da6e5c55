"""Local authorization: the Local Authorization List (SendLocalList) and the authorization cache."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast, get_args

from voltbridge.sim.types import AuthorizationStatus, JsonObject, UpdateStatus


@dataclass(frozen=True, slots=True)
class TagInfo:
    """IdTagInfo as the charger keeps it."""

    status: AuthorizationStatus
    expiry_date: str | None = None
    parent_id_tag: str | None = None

    def status_at(self, now: datetime) -> AuthorizationStatus:
        """The status, or Expired once ``expiry_date`` has passed."""
        if self.expiry_date is not None and _parse_time(self.expiry_date) <= now:
            return "Expired"
        return self.status

    @classmethod
    def from_payload(cls, data: object) -> TagInfo:
        """Read an IdTagInfo (snake_case, as the ``ocpp`` package hands it over)."""
        if not isinstance(data, dict):
            raise ValueError(f"idTagInfo must be an object, got {data!r}")
        status = data.get("status")
        if status not in get_args(AuthorizationStatus):
            raise ValueError(f"idTagInfo.status {status!r} is not an AuthorizationStatus")
        expiry = data.get("expiry_date")
        parent = data.get("parent_id_tag")
        return cls(
            status=cast(AuthorizationStatus, status),
            expiry_date=expiry if isinstance(expiry, str) else None,
            parent_id_tag=parent if isinstance(parent, str) else None,
        )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LocalAuthList:
    """The Local Authorization List: a version and the tags the backend sent."""

    def __init__(self) -> None:
        self.version = 0
        self.entries: dict[str, TagInfo] = {}

    def update(
        self,
        *,
        version: int,
        update_type: str,
        items: Sequence[JsonObject],
        max_length: int,
        max_per_message: int,
    ) -> UpdateStatus:
        """Apply SendLocalList; nothing changes unless the answer is Accepted."""
        if len(items) > max_per_message:
            return "Failed"
        if update_type == "Differential" and version <= self.version:
            return "VersionMismatch"
        updates: dict[str, TagInfo | None] = {}
        try:
            for item in items:
                tag = item.get("id_tag")
                if not isinstance(tag, str):
                    return "Failed"
                info = item.get("id_tag_info")
                if info is None and update_type == "Full":
                    # A full list replaces everything, so every entry must say what the tag may do.
                    return "Failed"
                updates[tag] = None if info is None else TagInfo.from_payload(info)
        except ValueError:
            return "Failed"
        entries = {} if update_type == "Full" else dict(self.entries)
        for tag, tag_info in updates.items():
            if tag_info is None:
                entries.pop(tag, None)
            else:
                entries[tag] = tag_info
        if len(entries) > max_length:
            return "Failed"
        self.entries = entries
        self.version = version
        return "Accepted"

    def lookup(self, id_tag: str) -> TagInfo | None:
        """The entry for ``id_tag``, if the list has one."""
        return self.entries.get(id_tag)


class AuthorizationCache:
    """What the backend answered about tags lately (Authorize, StartTransaction)."""

    def __init__(self) -> None:
        self.entries: dict[str, TagInfo] = {}

    def remember(self, id_tag: str, info: TagInfo) -> None:
        """Keep the backend's answer about ``id_tag``."""
        self.entries[id_tag] = info

    def lookup(self, id_tag: str) -> TagInfo | None:
        """The cached answer about ``id_tag``, if any."""
        return self.entries.get(id_tag)

    def clear(self) -> None:
        """Forget everything (ClearCache)."""
        self.entries.clear()
