"""Alembic migrations, driven from code so the package needs no alembic.ini on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def _upgrade_sync(database_url: str, revision: str) -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations (runs Alembic in a worker thread: it drives its own event loop)."""
    await asyncio.to_thread(_upgrade_sync, database_url, revision)
