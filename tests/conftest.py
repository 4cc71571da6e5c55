"""Shared fixtures: a real database (SQLite file, and PostgreSQL when reachable) and a running app.

Every test that takes `database_url` (directly or through `make_app`) runs once per backend.
PostgreSQL runs when VOLTBRIDGE_TEST_POSTGRES_URL points at a server (a maintenance URL such as
postgresql://postgres@127.0.0.1:5432/postgres); with VOLTBRIDGE_TEST_POSTGRES=required an
unreachable server fails the run instead of skipping (CI sets both).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from voltbridge.app import App
from voltbridge.config import Settings
from voltbridge.store import Base
from voltbridge.store.migrate import upgrade

ADMIN_TOKEN = "test-admin-token"
POSTGRES_URL = os.environ.get("VOLTBRIDGE_TEST_POSTGRES_URL", "")
POSTGRES_REQUIRED = os.environ.get("VOLTBRIDGE_TEST_POSTGRES") == "required"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "voltbridge.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def _asyncpg_url(url: str, database: str) -> str:
    base = url.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0]
    return f"{base}/{database}"


async def _create_database(maintenance_url: str, name: str) -> None:
    engine = create_async_engine(_asyncpg_url(maintenance_url, "postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


async def _drop_database(maintenance_url: str, name: str) -> None:
    engine = create_async_engine(_asyncpg_url(maintenance_url, "postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run; dropped at the end."""
    if not POSTGRES_URL:
        if POSTGRES_REQUIRED:
            pytest.fail("VOLTBRIDGE_TEST_POSTGRES=required but VOLTBRIDGE_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL suite skipped: set VOLTBRIDGE_TEST_POSTGRES_URL to run it")
    name = f"voltbridge_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_create_database(POSTGRES_URL, name))
    except Exception as exc:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_URL}: {exc!r}")
        pytest.skip(f"PostgreSQL suite skipped: {POSTGRES_URL} unreachable ({exc!r})")
    url = _asyncpg_url(POSTGRES_URL, name)
    asyncio.run(upgrade(url))
    yield url
    asyncio.run(_drop_database(POSTGRES_URL, name))


async def _truncate_all(url: str) -> None:
    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "voltbridge.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate_all(url))
    yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "ocpp_port": 0,
        "http_port": 0,
        "ocpp_tls_port": 0,
        "admin_token": ADMIN_TOKEN,
        "ping_interval": None,
        "command_timeout": 5.0,
        # Re-price a running session on every meter value, so tests see each cost (production: 15 s).
        "billing_running_cost_interval": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(database_url: str) -> AsyncIterator[AppFactory]:
    """Start apps on free ports (settings overridable); all are stopped at the end of the test."""
    started: list[App] = []

    async def factory(*, http: bool = True, **overrides: Any) -> App:
        app = App.build(make_settings(database_url, **overrides))
        await app.start(migrate=False, http=http)
        started.append(app)
        return app

    yield factory
    for app in reversed(started):
        await app.stop()


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    """A running app with default settings (HTTP and OCPP on free ports)."""
    return await make_app()


def ocpp_url(app: App) -> str:
    return f"ws://127.0.0.1:{app.ports.ocpp}/ocpp"


def api_url(app: App) -> str:
    return f"http://127.0.0.1:{app.ports.http}"
