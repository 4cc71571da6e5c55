"""Group commit for the heaviest stream: meter values.

Every `write` waits until its rows are committed, so a charger is answered only for what is stored.
Writes that arrive while a batch is being committed join the next batch, so under load one commit
carries many messages, and when idle a single message is committed at once. Two batches may be on
their way at once; each is its own transaction, and a register never moves backwards, so their
order of commit does not matter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import EllipsisType

from voltbridge.core.metering import Reading, Sample, last_register
from voltbridge.store import Database
from voltbridge.store.bulk import BulkWriter, MeterMessage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    station_id: str
    connector_id: int
    transaction_id: int | None
    samples: Sequence[Sample]
    register: Reading | None  # the samples' last register reading
    done: asyncio.Future[None]


class WriterClosed(RuntimeError):
    """Raised by `write` after the writer was closed."""


class MeterWriter:
    """Batches meter-value inserts and transaction register updates into few commits."""

    def __init__(self, db: Database, *, max_rows: int = 2000, in_flight: int = 2) -> None:
        self._db = db
        self._bulk = BulkWriter(db)
        self._max_rows = max_rows
        # Batches sent before the previous one is committed: the database starts the next one as
        # soon as it is done, instead of waiting for this process to answer and send more.
        self._in_flight = in_flight
        self._sent = 0  # batches on their way
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Kept from start(): asyncio.get_running_loop() costs a getpid() system call (CPython checks
        # for a fork), and write() runs for every message.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.rows_written = 0
        self.batches = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="meter-writer")

    async def write(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: int | None,
        samples: Sequence[Sample],
        register: Reading | EllipsisType | None = ...,
    ) -> None:
        """Store the samples; returns once they are committed.

        `register` is their `last_register`, for a caller that has it already (it is found if not given).
        """
        if self._closing:
            raise WriterClosed("meter writer is closed")
        if not samples:
            return
        if register is ...:
            register = last_register(samples) if transaction_id is not None else None
        done: asyncio.Future[None] = (self._loop or asyncio.get_running_loop()).create_future()
        self._pending.append(_Pending(station_id, connector_id, transaction_id, samples, register, done))
        self._wakeup.set()
        await done

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def close(self) -> None:
        """Flush everything queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        await self._bulk.close()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending and self._sent < self._in_flight:
                await self._send(self._take_batch())
            if self._closing and not self._pending and not self._sent:
                return

    async def _send(self, batch: list[_Pending]) -> None:
        messages: list[MeterMessage] = [
            (item.station_id, item.connector_id, item.transaction_id, item.samples) for item in batch
        ]
        registers = [(tx, wh, at) for tx, (wh, at) in self._latest_registers(batch).items()]
        rows = sum(len(item.samples) for item in batch)
        self._sent += 1
        try:
            await self._bulk.submit(messages, registers, lambda error: self._committed(batch, rows, error))
        except Exception as exc:  # not sent (its answer will not come)
            self._committed(batch, rows, exc)

    def _committed(self, batch: list[_Pending], rows: int, error: BaseException | None) -> None:
        """A batch's answer (called by the bulk writer as it arrives: its chargers are waiting)."""
        self._sent -= 1
        self._wakeup.set()  # room for the next batch
        if error is None:
            self.rows_written += rows
            self.batches += 1
        else:
            log.error("writing %d meter-value messages failed", len(batch), exc_info=error)
        for item in batch:
            if not item.done.done():
                if error is None:
                    item.done.set_result(None)
                else:
                    item.done.set_exception(error)

    def _take_batch(self) -> list[_Pending]:
        rows = 0
        count = 0
        for item in self._pending:
            rows += len(item.samples)
            count += 1
            if rows >= self._max_rows:
                break
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    @staticmethod
    def _latest_registers(batch: list[_Pending]) -> dict[int, Reading]:
        latest: dict[int, Reading] = {}
        for item in batch:
            reading = item.register
            if reading is None or item.transaction_id is None:
                continue
            known = latest.get(item.transaction_id)
            if known is None or reading[1] >= known[1]:
                latest[item.transaction_id] = reading
        return latest
