"""The REST API: FastAPI routers under /api/v1, authentication, /healthz and /metrics."""

from voltbridge.api.app import API_PREFIX, create_api
from voltbridge.api.deps import Services

__all__ = ["API_PREFIX", "Services", "create_api"]
