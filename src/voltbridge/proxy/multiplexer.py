"""The multiplexer: shares each charger with its upstream backoffices, one leg per upstream.

`Proxy` is three things to the rest of voltbridge:

- the gateway's `ChargerTraffic` observer: it learns of chargers connecting and leaving, and of every
  CALL a charger sent once voltbridge has answered it (`answered` is awaited before the charger gets
  that answer, so durable messages are in the outbox first; everything else is only queued);
- an `Authority` for the AuthorizationService: a station with an enabled, connected Billing upstream
  has its Authorize and StartTransaction decided there (the service bounds the wait);
- the API's `UpstreamLegs`: live state and recent messages of each leg.

Legs exist while their charger is connected, and also without it while durable messages wait for
the upstream (after a restart too). Every leg runs in a task of the proxy's TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voltbridge.bus import Bus, CallHandler
from voltbridge.core.authorization import AuthorizationRequest, Purpose
from voltbridge.core.clock import Clock
from voltbridge.core.errors import InvalidInput
from voltbridge.core.stations.service import StationService
from voltbridge.core.timeutil import parse_charger_time
from voltbridge.core.tokens.service import IdTagInfo
from voltbridge.core.upstreams import (
    LegState,
    LegStatus,
    LoggedMessage,
    OutboxMessage,
    OutboxService,
    Role,
    TransactionLink,
    UpstreamChanged,
    UpstreamDeleted,
    UpstreamService,
)
from voltbridge.ocpp.protocol import OcppVersion
from voltbridge.proxy.leg import Leg, LegConfig
from voltbridge.proxy.options import ProxyOptions
from voltbridge.proxy.stats import LegStats
from voltbridge.store.models.upstreams import Upstream

log = logging.getLogger(__name__)

Payload = dict[str, Any]

ID_TAG_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


class NoAuthority(Exception):
    """Raised by `decide` when the station's Billing upstream went away between the check and the ask."""


@dataclass(slots=True)
class _Decided:
    """The charger CALL an authority leg has just answered (one per station: its CALLs come in turn)."""

    action: str
    payload: Payload
    upstream_id: int
    answered: bool = False
    their_transaction_id: int | None = None


class Proxy:
    """All legs of this node, and what the gateway and the authorization service ask of them."""

    def __init__(
        self,
        *,
        stations: StationService,
        upstreams: UpstreamService,
        outbox: OutboxService,
        bus: Bus,
        clock: Clock,
        options: ProxyOptions | None = None,
    ) -> None:
        self.options = options or ProxyOptions()
        self._stations = stations
        self._upstreams = upstreams
        self._outbox = outbox
        self._clock = clock
        self._configs: dict[int, LegConfig] = {}
        self._by_station: dict[str, set[int]] = {}
        self._legs: dict[int, Leg] = {}
        self._leg_tasks: dict[int, asyncio.Task[None]] = {}
        self._stats: dict[int, LegStats] = {}
        self._chargers: dict[str, CallHandler] = {}
        self._decided: dict[str, _Decided] = {}
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()
        bus.subscribe(UpstreamChanged, self._on_changed, name="proxy-upstream-changed")
        bus.subscribe(UpstreamDeleted, self._on_deleted, name="proxy-upstream-deleted")

    async def start(self) -> None:
        """Load the upstreams, start the outbox writer, and legs for upstreams that have a backlog."""
        for upstream in await self._upstreams.all_enabled():
            self._remember(_config(upstream))
        self._runner = asyncio.create_task(self._supervise(), name="proxy")
        await self._started.wait()
        for upstream_id in await self._outbox.backlogged():
            if upstream_id in self._configs:
                self._start_leg(upstream_id)

    async def close(self) -> None:
        """Stop every leg, write what the outbox still holds, and end."""
        if self._runner is None:
            return
        self._stopping.set()
        await self._runner
        self._runner = None

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self._outbox.run(), name="proxy-outbox")
            self._started.set()
            await self._stopping.wait()
            for task in list(self._leg_tasks.values()):
                task.cancel()
            if self._leg_tasks:
                await asyncio.wait(list(self._leg_tasks.values()))
            self._outbox.close()
        self._group = None

    # ChargerTraffic -------------------------------------------------------------------------------

    async def connected(self, station_id: str, ocpp_version: str, send: CallHandler) -> None:
        """A charger connected: its legs start (or a leg delivering a backlog gets the charger back)."""
        if ocpp_version != OcppVersion.V16:
            if self._by_station.get(station_id):
                log.warning(
                    "%s speaks %s; its upstreams are served for OCPP 1.6 only", station_id, ocpp_version
                )
            return
        self._chargers[station_id] = send
        for upstream_id in self._by_station.get(station_id, ()):
            leg = self._legs.get(upstream_id)
            if leg is None:
                self._start_leg(upstream_id)
            else:
                leg.set_charger(send)

    async def disconnected(self, station_id: str) -> None:
        """The charger left: its legs end once nothing durable waits for their upstreams."""
        self._chargers.pop(station_id, None)
        self._decided.pop(station_id, None)
        for upstream_id in self._by_station.get(station_id, ()):
            leg = self._legs.get(upstream_id)
            if leg is not None:
                leg.set_charger(None)

    async def answered(self, station_id: str, action: str, request: Payload, response: Payload) -> None:
        """Queue the charger's CALL for every upstream; billing-relevant ones are stored first."""
        decided = self._decided.pop(station_id, None)
        legs = self._station_legs(station_id)
        if not legs:
            return
        if decided is not None and (decided.action != action or decided.payload != request):
            decided = None
        try:
            if action == "StartTransaction":
                await self._start(legs, request, response, decided)
            elif action == "StopTransaction" or (action == "MeterValues" and "transactionId" in request):
                await self._transaction_message(legs, action, request)
            else:
                for leg in legs:
                    if decided is not None and decided.answered and decided.upstream_id == leg.upstream_id:
                        continue  # the authority has answered this very CALL already
                    leg.forward(action, request)
        except Exception:
            # The charger's answer must not depend on an upstream, nor on its outbox.
            log.exception("could not queue %s of %s for its upstreams", action, station_id)

    async def _start(
        self, legs: list[Leg], request: Payload, response: Payload, decided: _Decided | None
    ) -> None:
        ours = response.get("transactionId")
        if not isinstance(ours, int):
            for leg in legs:
                leg.forward("StartTransaction", request)
            return
        messages: list[OutboxMessage] = []
        links: list[TransactionLink] = []
        for leg in legs:
            their = (
                decided.their_transaction_id if decided and decided.upstream_id == leg.upstream_id else None
            )
            if their is not None:
                links.append(TransactionLink(leg.upstream_id, ours, their))  # it answered this very Start
                continue
            if leg.ids.theirs(ours) is not None or leg.ids.is_pending(ours):
                continue  # the charger repeated a start this upstream already has
            messages.append(OutboxMessage(leg.upstream_id, "StartTransaction", request, ours))
        entry_ids = await self._outbox.append(messages, links)
        for link in links:
            if (current := self._legs.get(link.upstream_id)) is not None:
                current.ids.learn(ours, link.their_transaction_id)
        self._queue_stored(messages, entry_ids)

    async def _transaction_message(self, legs: list[Leg], action: str, request: Payload) -> None:
        ours = request.get("transactionId")
        if not isinstance(ours, int):
            for leg in legs:
                leg.forward(action, request)
            return
        messages: list[OutboxMessage] = []
        for leg in legs:
            if leg.ids.knows(ours):
                messages.append(OutboxMessage(leg.upstream_id, action, request, ours))
            else:
                leg.stats.skipped += 1  # it was connected after this transaction started
        self._queue_stored(messages, await self._outbox.append(messages))

    def _queue_stored(self, messages: list[OutboxMessage], entry_ids: list[int]) -> None:
        # The leg may have been replaced (its upstream changed) while the outbox committed.
        for message, entry_id in zip(messages, entry_ids, strict=True):
            if (leg := self._legs.get(message.upstream_id)) is not None:
                leg.forward_durable(entry_id, message.action, message.payload, message.transaction_id)

    # Authority ------------------------------------------------------------------------------------

    def decides_for(self, station_id: str) -> bool:
        """Whether an enabled Billing upstream of the station is connected now."""
        return self._authority(station_id) is not None

    async def decide(self, request: AuthorizationRequest) -> IdTagInfo:
        """Ask the station's Billing upstream; records on the leg when its answer does not come."""
        leg = self._authority(request.station_id)
        if leg is None:
            raise NoAuthority(f"{request.station_id} has no connected Billing upstream")
        action = request.purpose.value
        decided = _Decided(action, request.payload, leg.upstream_id)
        self._decided[request.station_id] = decided
        try:
            answer = await leg.ask(action, dict(request.payload))
            decided.answered = True
            info = _id_tag_info(answer)
            if request.purpose is Purpose.START:
                theirs = answer.get("transactionId")
                if not isinstance(theirs, int) or isinstance(theirs, bool):
                    raise InvalidInput(
                        f"the Billing upstream answered StartTransaction without a transactionId: {answer}"
                    )
                decided.their_transaction_id = theirs
            return info
        except BaseException as exc:  # also the cancellation when the bounded wait ends
            leg.fallback_used(action, exc)
            raise

    def _authority(self, station_id: str) -> Leg | None:
        for upstream_id in self._by_station.get(station_id, ()):
            leg = self._legs.get(upstream_id)
            if leg is not None and leg.config.role is Role.BILLING and leg.connected:
                return leg
        return None

    # UpstreamLegs ---------------------------------------------------------------------------------

    def state(self, upstream_id: int) -> LegState | None:
        """The leg's state and counters; None when this node never ran a leg for the upstream."""
        stats = self._stats.get(upstream_id)
        if stats is None:
            return None
        leg = self._legs.get(upstream_id)
        if leg is None:
            stats.status = LegStatus.IDLE if upstream_id in self._configs else LegStatus.DISABLED
            return stats.snapshot(outbox_depth=0, queue_depth=0)
        return stats.snapshot(outbox_depth=leg.queue.durable, queue_depth=len(leg.queue))

    def messages(self, upstream_id: int) -> Sequence[LoggedMessage]:
        stats = self._stats.get(upstream_id)
        return list(stats.log) if stats is not None else []

    @property
    def outbox(self) -> OutboxService:
        """The durable outbox the legs deliver from (tests and diagnostics)."""
        return self._outbox

    def leg(self, upstream_id: int) -> Leg | None:
        """The running leg of an upstream (tests and diagnostics)."""
        return self._legs.get(upstream_id)

    # Registry changes -----------------------------------------------------------------------------

    async def _on_changed(self, event: UpstreamChanged) -> None:
        upstream = await self._upstreams.find(event.upstream_id)
        if upstream is None or not upstream.enabled:
            self._forget(event.upstream_id)
            await self._stop_leg(event.upstream_id)
            return
        config = _config(upstream)
        old = self._configs.get(config.upstream_id)
        self._remember(config)
        leg = self._legs.get(config.upstream_id)
        if leg is not None and old is not None and old.same_link(config):
            leg.config = config  # a new role applies to the next message, on the same connections
            return
        if leg is not None:
            await self._stop_leg(config.upstream_id)
        if config.station_id in self._chargers or await self._outbox.depth(config.upstream_id):
            self._start_leg(config.upstream_id)

    async def _on_deleted(self, event: UpstreamDeleted) -> None:
        self._forget(event.upstream_id)
        self._stats.pop(event.upstream_id, None)
        await self._stop_leg(event.upstream_id)

    def _remember(self, config: LegConfig) -> None:
        self._forget(config.upstream_id)
        self._configs[config.upstream_id] = config
        self._by_station.setdefault(config.station_id, set()).add(config.upstream_id)

    def _forget(self, upstream_id: int) -> None:
        config = self._configs.pop(upstream_id, None)
        if config is not None:
            ids = self._by_station.get(config.station_id)
            if ids is not None:
                ids.discard(upstream_id)
                if not ids:
                    del self._by_station[config.station_id]

    def _station_legs(self, station_id: str) -> list[Leg]:
        ids = self._by_station.get(station_id)
        if not ids:
            return []
        return [leg for upstream_id in sorted(ids) if (leg := self._legs.get(upstream_id)) is not None]

    def _start_leg(self, upstream_id: int) -> None:
        if self._group is None or self._stopping.is_set() or upstream_id in self._legs:
            return
        config = self._configs[upstream_id]
        stats = self._stats.setdefault(upstream_id, LegStats(self.options.log_size))
        leg = Leg(
            config,
            stations=self._stations,
            outbox=self._outbox,
            clock=self._clock,
            stats=stats,
            options=self.options,
            role_now=self._role_now,
        )
        leg.set_charger(self._chargers.get(config.station_id))
        self._legs[upstream_id] = leg
        self._leg_tasks[upstream_id] = self._group.create_task(self._run_leg(leg), name=f"leg-{upstream_id}")

    async def _role_now(self, upstream_id: int) -> Role | None:
        upstream = await self._upstreams.find(upstream_id)
        return Role(upstream.role) if upstream is not None and upstream.enabled else None

    async def _run_leg(self, leg: Leg) -> None:
        try:
            await leg.run()
        finally:
            if self._legs.get(leg.upstream_id) is leg:
                del self._legs[leg.upstream_id]
                del self._leg_tasks[leg.upstream_id]

    async def _stop_leg(self, upstream_id: int) -> None:
        task = self._leg_tasks.get(upstream_id)
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])


def _config(upstream: Upstream) -> LegConfig:
    return LegConfig(
        upstream_id=upstream.id,
        station_id=upstream.station_id,
        url=upstream.url,
        role=Role(upstream.role),
        password=upstream.password,
        client_cert=upstream.client_cert,
        client_key=upstream.client_key,
        ca_cert=upstream.ca_cert,
    )


def _id_tag_info(answer: Payload) -> IdTagInfo:
    """The idTagInfo of an authority's answer; InvalidInput if it has none we can pass on."""
    info = answer.get("idTagInfo")
    if not isinstance(info, dict) or info.get("status") not in ID_TAG_STATUSES:
        raise InvalidInput(f"the Billing upstream answered without a valid idTagInfo: {answer}")
    expiry = info.get("expiryDate")
    parent = info.get("parentIdTag")
    return IdTagInfo(
        status=info["status"],
        expiry_date=parse_charger_time(expiry).at if isinstance(expiry, str) else None,
        parent_id_tag=parent if isinstance(parent, str) else None,
    )
