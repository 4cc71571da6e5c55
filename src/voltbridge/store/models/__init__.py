"""All tables. Importing this module registers every table on `Base.metadata`."""

from voltbridge.store.models import billing as billing  # registers tariffs, CDRs and session reviews
from voltbridge.store.models import ocpi as ocpi  # registers the OCPI roaming tables
from voltbridge.store.models import operators as operators  # registers the operators' tables
from voltbridge.store.models import upstreams as upstreams  # registers the multiplexer's tables
from voltbridge.store.models.commands import CommandLogEntry
from voltbridge.store.models.stations import Connector, Station, StationEvent
from voltbridge.store.models.tokens import IdToken
from voltbridge.store.models.transactions import MeterValue, Transaction
from voltbridge.store.models.users import ApiToken, User

__all__ = [
    "ApiToken",
    "CommandLogEntry",
    "Connector",
    "IdToken",
    "MeterValue",
    "Station",
    "StationEvent",
    "Transaction",
    "User",
]
