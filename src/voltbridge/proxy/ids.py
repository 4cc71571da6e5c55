"""Transaction ids across legs (OCPP 1.6): the charger always uses ours; each upstream its own.

Each upstream learns our transaction from its StartTransaction and answers with its own id; the
`TransactionMap` keeps both for the transactions still open, and the functions below rewrite the
`transactionId` fields going up (MeterValues, StopTransaction) and down (RemoteStopTransaction,
SetChargingProfile, a RemoteStartTransaction's charging profile).
"""

from __future__ import annotations

from typing import Any

Payload = dict[str, Any]

# Messages from the charger that name our transaction and must carry the upstream's id instead.
NAMES_TRANSACTION = frozenset({"MeterValues", "StopTransaction"})


class UnknownTransaction(Exception):
    """Raised by `down` when an upstream names a transaction id it was never given (or has ended)."""

    def __init__(self, their_transaction_id: object) -> None:
        super().__init__(f"transaction {their_transaction_id!r} is unknown to this upstream")
        self.their_transaction_id = their_transaction_id


class TransactionMap:
    """One upstream's ids for our open transactions, and the starts it has not answered yet."""

    def __init__(self) -> None:
        self._theirs: dict[int, int] = {}
        self._ours: dict[int, int] = {}
        self._pending: set[int] = set()
        self.loaded = False

    def learn(self, ours: int, theirs: int) -> None:
        old = self._theirs.pop(ours, None)
        if old is not None:
            self._ours.pop(old, None)
        self._theirs[ours] = theirs
        self._ours[theirs] = ours
        self._pending.discard(ours)

    def close(self, ours: int) -> None:
        theirs = self._theirs.pop(ours, None)
        if theirs is not None:
            self._ours.pop(theirs, None)

    def start_pending(self, ours: int) -> None:
        self._pending.add(ours)

    def start_failed(self, ours: int) -> None:
        self._pending.discard(ours)

    def is_pending(self, ours: int) -> bool:
        return ours in self._pending

    def theirs(self, ours: int) -> int | None:
        return self._theirs.get(ours)

    def ours(self, theirs: int) -> int | None:
        return self._ours.get(theirs)

    def knows(self, ours: int) -> bool:
        """Whether the upstream has (or will have) this transaction. True until the map is loaded."""
        return not self.loaded or ours in self._theirs or ours in self._pending

    def __len__(self) -> int:
        return len(self._theirs)


def up(payload: Payload, theirs: int) -> Payload:
    """A copy of a charger message (MeterValues, StopTransaction) carrying the upstream's id."""
    return {**payload, "transactionId": theirs}


def down(action: str, payload: Payload, ids: TransactionMap) -> Payload:
    """A copy of an upstream command with our transaction ids; raises UnknownTransaction."""
    if action == "RemoteStopTransaction":
        return {**payload, "transactionId": _ours(payload.get("transactionId"), ids)}
    if action == "SetChargingProfile":
        profile = payload.get("csChargingProfiles")
        if isinstance(profile, dict) and "transactionId" in profile:
            ours = _ours(profile["transactionId"], ids)
            return {**payload, "csChargingProfiles": {**profile, "transactionId": ours}}
    if action == "RemoteStartTransaction":
        profile = payload.get("chargingProfile")
        if isinstance(profile, dict) and "transactionId" in profile:
            ours = _ours(profile["transactionId"], ids)
            return {**payload, "chargingProfile": {**profile, "transactionId": ours}}
    return payload


def _ours(theirs: object, ids: TransactionMap) -> int:
    if not isinstance(theirs, int) or isinstance(theirs, bool):
        raise UnknownTransaction(theirs)
    ours = ids.ours(theirs)
    if ours is None:
        raise UnknownTransaction(theirs)
    return ours
