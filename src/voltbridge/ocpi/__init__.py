"""OCPI 2.2.1 (and 2.1.1) roaming as a CPO: server routes, client, partner registry, push outbox.

Public face:
- `OcpiService` (built by the composition root) and `OcpiOptions` (our party and limits);
- `create_ocpi_app(service)`: the ASGI app to mount at /ocpi;
- the adapter interfaces `LocationSource`, `TariffSource`, `CdrSource` and their current
  implementations (`StoreLocationSource`, `MemoryTariffSource`, `PricingCdrSource`).
"""

from voltbridge.ocpi.options import OcpiOptions, OfflinePolicy
from voltbridge.ocpi.server import create_ocpi_app
from voltbridge.ocpi.service import OcpiService
from voltbridge.ocpi.sessions import CdrSource, PricingCdrSource
from voltbridge.ocpi.sources import LocationSource, MemoryTariffSource, StoreLocationSource, TariffSource
from voltbridge.ocpi.transport import TokenEncoding

__all__ = [
    "CdrSource",
    "LocationSource",
    "MemoryTariffSource",
    "OcpiOptions",
    "OcpiService",
    "OfflinePolicy",
    "PricingCdrSource",
    "StoreLocationSource",
    "TariffSource",
    "TokenEncoding",
    "create_ocpi_app",
]
