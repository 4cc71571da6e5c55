"""The push outbox: every push to a partner is a row first, delivered by one worker with retries.

- Durable: a push is written in the same unit of work as the decision to push, so a restart loses
  nothing; the worker picks up whatever is due.
- Ordered per object: an item waits while an older item for the same object (`object_key`) is
  undelivered, so a PATCH never overtakes the PUT that created the object.
- Idempotent: PUTs replace whole objects and PATCHes carry `last_updated` (receivers drop older
  ones), so a retry after a lost answer is harmless. A newer PUT or DELETE for the same object
  supersedes an undelivered older item (no replay of stale states).
- Backoff: transient failures (no connection, HTTP 5xx, OCPI 3xxx) are retried after
  `push_retry_base * 2**attempts` seconds (capped), up to `push_max_attempts`, then `failed`.
  A refusal (HTTP 4xx, OCPI 2xxx) is `rejected` at once and stays visible; CDRs keep that state in
  `ocpi_cdrs.push_status` for reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.ocpi.client import OcpiClient
from voltbridge.ocpi.errors import PartnerCallFailed
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.partners import REGISTERED, SUSPENDED, endpoint_url
from voltbridge.ocpi.types import InterfaceRole
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiCdr, OcpiOutboxItem, OcpiPartner

log = logging.getLogger(__name__)

PENDING = "pending"
DONE = "done"
REJECTED = "rejected"
FAILED = "failed"
SUPERSEDED = "superseded"


def add_push(
    session: AsyncSession,
    *,
    partner_id: int,
    module: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    object_key: str,
    now: Any,
) -> OcpiOutboxItem:
    """Queue one push inside the caller's unit of work (`path` is relative to the module's URL)."""
    item = OcpiOutboxItem(
        partner_id=partner_id,
        module=module,
        method=method,
        path=path,
        body=body,
        object_key=object_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    return item


async def supersede(session: AsyncSession, partner_id: int, object_key: str, now: Any) -> None:
    """Drop undelivered pushes of an object that a full PUT or DELETE makes stale."""
    await session.execute(
        update(OcpiOutboxItem)
        .where(
            OcpiOutboxItem.partner_id == partner_id,
            OcpiOutboxItem.object_key == object_key,
            OcpiOutboxItem.status == PENDING,
            OcpiOutboxItem.attempts == 0,  # one in flight may already have reached the partner
        )
        .values(status=SUPERSEDED, updated_at=now)
    )


class PushOutbox:
    """Delivers queued pushes. `wake()` after queueing; `drain()` waits until nothing is due."""

    def __init__(self, db: Database, clock: Clock, client: OcpiClient, options: OcpiOptions) -> None:
        self._db = db
        self._clock = clock
        self._client = client
        self._options = options
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failures = 0

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ocpi-outbox")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until a pass found nothing due (tests; shutdown)."""
        self.wake()
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def _run(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("OCPI outbox pass failed")
                worked = 0
            if worked == 0:
                self._idle.set()
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._options.push_interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """Deliver every due item once; returns how many were tried."""
        now = self._clock.now()
        async with self._db.read() as session:
            due = (
                await session.scalars(
                    select(OcpiOutboxItem)
                    .where(OcpiOutboxItem.status == PENDING, OcpiOutboxItem.next_attempt_at <= now)
                    .order_by(OcpiOutboxItem.id)
                    .limit(200)
                )
            ).all()
            blocked = await self._blocked_keys(session, due)
            partners = {
                p.id: p
                for p in (
                    await session.scalars(
                        select(OcpiPartner).where(OcpiPartner.id.in_({i.partner_id for i in due}))
                    )
                ).all()
            }
        tried = 0
        seen: set[tuple[int, str]] = set()
        for item in due:
            key = (item.partner_id, item.object_key)
            if key in seen or (item.id, key) in blocked:
                continue  # an older push of the same object goes first
            seen.add(key)
            partner = partners.get(item.partner_id)
            if partner is None or partner.status == SUSPENDED:
                continue
            if partner.status != REGISTERED:
                await self._finish(item, FAILED, error=f"partner is {partner.status}")
                continue
            tried += 1
            await self._deliver(partner, item)
        return tried

    async def _blocked_keys(
        self, session: AsyncSession, due: Sequence[OcpiOutboxItem]
    ) -> set[tuple[int, tuple[int, str]]]:
        # An item is blocked when an older pending item of the same object is not due yet (backing off).
        blocked: set[tuple[int, tuple[int, str]]] = set()
        for item in due:
            older = await session.scalar(
                select(func.count()).where(
                    OcpiOutboxItem.partner_id == item.partner_id,
                    OcpiOutboxItem.object_key == item.object_key,
                    OcpiOutboxItem.status == PENDING,
                    OcpiOutboxItem.id < item.id,
                )
            )
            if older:
                blocked.add((item.id, (item.partner_id, item.object_key)))
        return blocked

    async def _deliver(self, partner: OcpiPartner, item: OcpiOutboxItem) -> None:
        base = endpoint_url(partner, item.module, InterfaceRole.RECEIVER)
        if base is None:
            await self._finish(item, REJECTED, error=f"the partner has no {item.module} Receiver endpoint")
            return
        url = base.rstrip("/") + item.path
        try:
            reply = await self._client.to_partner(
                partner, item.method, url, module=item.module, json=item.body
            )
        except PartnerCallFailed as exc:
            self.failures += 1
            if exc.transient and item.attempts + 1 < self._options.push_max_attempts:
                delay = min(self._options.push_retry_base * 2**item.attempts, self._options.push_retry_max)
                await self._retry(item, str(exc), exc, delay)
            else:
                await self._finish(item, REJECTED if not exc.transient else FAILED, error=str(exc), exc=exc)
            return
        self.delivered += 1
        await self._finish(
            item,
            DONE,
            location=reply.headers.get("Location"),
            http_status=reply.http_status,
            ocpi_status=reply.status_code,
        )

    async def _retry(self, item: OcpiOutboxItem, error: str, exc: PartnerCallFailed, delay: float) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(OcpiOutboxItem, item.id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error
            row.http_status = exc.http_status
            row.ocpi_status = exc.ocpi_status
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.updated_at = now

    async def _finish(
        self,
        item: OcpiOutboxItem,
        status: str,
        *,
        error: str | None = None,
        exc: PartnerCallFailed | None = None,
        location: str | None = None,
        http_status: int | None = None,
        ocpi_status: int | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(OcpiOutboxItem, item.id)
            if row is None:
                return
            row.status = status
            row.attempts += 1
            row.last_error = error
            row.http_status = exc.http_status if exc else http_status
            row.ocpi_status = exc.ocpi_status if exc else ocpi_status
            row.updated_at = now
            if item.module == "cdrs" and item.object_key.startswith("cdrs/"):
                cdr = await session.get(OcpiCdr, item.object_key.removeprefix("cdrs/"))
                if cdr is not None:
                    cdr.push_status = (
                        "accepted"
                        if status == DONE
                        else ("rejected" if status in (REJECTED, FAILED) else cdr.push_status)
                    )
                    cdr.push_error = error
                    if location:
                        cdr.partner_location = location

    async def items(
        self, *, partner_id: int | None = None, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[Sequence[OcpiOutboxItem], int]:
        """Queued and finished pushes, newest first."""
        query = select(OcpiOutboxItem)
        if partner_id is not None:
            query = query.where(OcpiOutboxItem.partner_id == partner_id)
        if status is not None:
            query = query.where(OcpiOutboxItem.status == status)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(OcpiOutboxItem.id.desc()).limit(limit).offset(offset))
            return rows.all(), total

    async def retry(self, item_id: int) -> None:
        """Put a rejected or failed push back in the queue (after the cause was fixed)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(OcpiOutboxItem, item_id)
            if row is not None and row.status in (REJECTED, FAILED):
                row.status = PENDING
                row.attempts = 0
                row.next_attempt_at = now
                row.updated_at = now
        self.wake()
