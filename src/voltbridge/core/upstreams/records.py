"""The values the outbox stores and hands out."""

from __future__ import annotations

from dataclasses import dataclass

Payload = dict[str, object]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A charger message to keep for one upstream; `transaction_id` is ours."""

    upstream_id: int
    action: str
    payload: Payload
    transaction_id: int | None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A stored outbox message; entries of one upstream are delivered in `id` order."""

    id: int
    upstream_id: int
    action: str
    payload: Payload
    transaction_id: int | None


@dataclass(frozen=True, slots=True)
class TransactionLink:
    """Our transactionId and the one the upstream gave it."""

    upstream_id: int
    transaction_id: int
    their_transaction_id: int
