"""The `voltbridge` command: help, migrate, users and tokens, serve, simulate and demo.

Commands that open ports run as real subprocesses on free ports (port 0); the others run in-process
through Typer's CliRunner on a temporary SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import ocpp_url
from voltbridge.app import App
from voltbridge.cli import cli
from voltbridge.config import Settings

VOLTBRIDGE = str(Path(sys.executable).parent / "voltbridge")
runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def env(database: str) -> Iterator[dict[str, str]]:
    """Settings for in-process commands; the caller's VOLTBRIDGE_* variables are kept out."""
    yield {"VOLTBRIDGE_DATABASE_URL": database, "VOLTBRIDGE_ADMIN_TOKEN": ""}


def server_env(database: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOLTBRIDGE_")}
    return {
        **clean,
        "VOLTBRIDGE_DATABASE_URL": database,
        "VOLTBRIDGE_HOST": "127.0.0.1",
        "VOLTBRIDGE_OCPP_PORT": "0",
        "VOLTBRIDGE_HTTP_PORT": "0",
        "VOLTBRIDGE_OCPP_TLS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


async def principal_email(database: str, token: str) -> str | None:
    app = App.build(Settings(database_url=database))
    try:
        principal = await app.users.authenticate(token)
        return principal.email if principal else None
    finally:
        await app.stop()


def test_help_lists_every_command() -> None:
    import subprocess

    result = subprocess.run([VOLTBRIDGE, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "migrate", "user", "token", "simulate", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [["serve"], ["migrate"], ["user", "create"], ["token", "create"], ["simulate"], ["demo"], ["user"]],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: voltbridge" in result.output


def test_version() -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("voltbridge ")


def test_migrate_then_user_create_then_token_create(database: str, env: dict[str, str]) -> None:
    migrated = runner.invoke(cli, ["migrate"], env=env)
    assert migrated.exit_code == 0, migrated.output
    assert "up to date" in migrated.output
    created = runner.invoke(
        cli,
        ["user", "create", "--email", "Ops@Example.com", "--role", "admin", "--password", "long-enough"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "created user 1: ops@example.com (admin)" in created.output
    issued = runner.invoke(cli, ["token", "create", "--email", "ops@example.com", "--name", "ci"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("vb_")
    assert asyncio.run(principal_email(database, token)) == "ops@example.com"


def test_config_file_settings_are_used(tmp_path: Path, database: str) -> None:
    config = tmp_path / "voltbridge.toml"
    config.write_text(f'DATABASE_URL = "{database}"\n')
    assert runner.invoke(cli, ["migrate", "--config", str(config)]).exit_code == 0
    assert Path(database.split("///", 1)[1]).exists()


def test_user_and_token_errors_are_one_line_and_exit_1(env: dict[str, str]) -> None:
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    assert (
        runner.invoke(
            cli, ["user", "create", "--email", "a@example.com", "--role", "admin"], env=env
        ).exit_code
        == 0
    )
    duplicate = runner.invoke(cli, ["user", "create", "--email", "a@example.com", "--role", "admin"], env=env)
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    operator = runner.invoke(
        cli, ["user", "create", "--email", "b@example.com", "--role", "operator"], env=env
    )
    assert operator.exit_code == 1 and "operator_id" in operator.stderr
    bad_role = runner.invoke(cli, ["user", "create", "--email", "b@example.com", "--role", "owner"], env=env)
    assert bad_role.exit_code == 2
    unknown = runner.invoke(cli, ["token", "create", "--email", "nobody@example.com"], env=env)
    assert unknown.exit_code == 1 and "does not exist" in unknown.stderr


def test_commands_on_an_unmigrated_database_say_what_to_do(env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["user", "create", "--email", "a@example.com", "--role", "admin"], env=env)
    assert result.exit_code == 1
    assert "voltbridge migrate" in result.stderr


def test_invalid_settings_exit_2(env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["migrate"], env={**env, "VOLTBRIDGE_UNKNOWN_STATIONS": "sometimes"})
    assert result.exit_code == 2
    assert "invalid settings" in result.stderr


@asynccontextmanager
async def running(
    *args: str, env: dict[str, str]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """Start `voltbridge ARGS` and collect its stdout lines up to "Press Ctrl-C to stop."."""
    process = await asyncio.create_subprocess_exec(
        VOLTBRIDGE, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "Press Ctrl-C to stop." not in lines[-1]:
                line = await process.stdout.readline()
                if not line:
                    assert process.stderr is not None
                    problem = (await process.stderr.read()).decode()
                    raise AssertionError(f"voltbridge {args} ended early:\n{''.join(lines)}\n{problem}")
                lines.append(line.decode())
        yield process, lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 60)


def find(pattern: str, lines: list[str]) -> str:
    match = re.search(pattern, "".join(lines))
    assert match is not None, f"{pattern!r} not in:\n{''.join(lines)}"
    return match.group(1)


async def test_serve_migrates_prints_where_and_how_and_stops_on_sigterm(database: str) -> None:
    env = server_env(database)
    async with running("serve", env=env) as (process, lines):
        api = find(r"REST API\s+(http://127\.0\.0\.1:\d+)/api/v1", lines)
        find(r"OCPP\s+(ws://127\.0\.0\.1:\d+/ocpp/)\{station_id\}", lines)
        find(r"API docs\s+(http://127\.0\.0\.1:\d+/api/docs)", lines)
        token = find(r"Authorization: Bearer (vb_\S+)", lines)
        async with httpx.AsyncClient(base_url=api, timeout=10) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["email"] == "admin@localhost" and me.json()["role"] == "admin"
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)
        assert process.returncode == 0

    # A second start finds the admin: no new token is made or shown; --no-migrate is fine now.
    async with running("serve", "--no-migrate", env=env) as (process, lines):
        assert "voltbridge token create" in "".join(lines)
        assert "vb_" not in "".join(lines)
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
        assert process.returncode == 0


async def test_serve_with_an_admin_token_makes_no_user(database: str) -> None:
    async with running("serve", env=server_env(database, VOLTBRIDGE_ADMIN_TOKEN="automation-token")) as (
        _,
        lines,
    ):
        api = find(r"REST API\s+(http://127\.0\.0\.1:\d+)/api/v1", lines)
        assert "VOLTBRIDGE_ADMIN_TOKEN" in "".join(lines)
        async with httpx.AsyncClient(
            base_url=api, headers={"Authorization": "Bearer automation-token"}
        ) as client:
            assert (await client.get("/api/v1/users")).json() == {"items": [], "total": 0}


async def test_simulate_runs_chargers_against_a_server(app: App) -> None:
    for n in (1, 2):
        await app.stations.register(f"SIM{n:04d}")
    process = await asyncio.create_subprocess_exec(
        VOLTBRIDGE,
        "simulate",
        "--url",
        ocpp_url(app),
        "--stations",
        "2",
        "--duration",
        "1",
        "--no-progress",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, (stdout.decode(), stderr.decode())
    assert "2 / 2" in stdout.decode()  # chargers booted
    station = await app.stations.get("SIM0002")
    assert station.booted_at is not None and station.vendor == "voltbridge"


async def test_demo_seeds_stations_and_cards_and_runs_chargers_against_itself(database: str) -> None:
    env = server_env(database)
    process = await asyncio.create_subprocess_exec(
        VOLTBRIDGE,
        "demo",
        "--stations",
        "2",
        "--duration",
        "2",
        "--no-progress",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, (stdout.decode(), stderr.decode())
    assert "demo: 2 of 2 chargers booted" in stdout.decode()
    app = App.build(Settings(database_url=database))
    try:
        stations, total = await app.stations.get_all()
        assert total == 2 and all(s.booted_at is not None for s in stations)
        assert (await app.tokens.get("DEMOTAG001")).status == "Accepted"
    finally:
        await app.stop()
