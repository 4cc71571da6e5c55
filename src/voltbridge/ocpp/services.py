"""What the per-version handlers need from core/, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from voltbridge.core.authorization import AuthorizationService
from voltbridge.core.clock import Clock
from voltbridge.core.stations.service import StationService
from voltbridge.core.transactions.service import TransactionService


@dataclass(frozen=True)
class GatewayServices:
    stations: StationService
    transactions: TransactionService
    authorization: AuthorizationService
    clock: Clock
