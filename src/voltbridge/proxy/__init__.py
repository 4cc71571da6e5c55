"""The multiplexer: one upstream leg per (charger, third-party backoffice), role policy, id mapping,
durable outbox. Other rooms use `Proxy` and `ProxyOptions`; the rest is private to the room."""

from voltbridge.proxy.multiplexer import Proxy
from voltbridge.proxy.options import ProxyOptions

__all__ = ["Proxy", "ProxyOptions"]
