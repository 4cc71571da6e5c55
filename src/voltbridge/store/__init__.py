"""Storage: SQLAlchemy tables, the database handle and migrations."""

from voltbridge.store.base import Base
from voltbridge.store.db import Database
from voltbridge.store.migrate import upgrade

__all__ = ["Base", "Database", "upgrade"]
