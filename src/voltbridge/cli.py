"""The `voltbridge` command: serve, migrate, users and tokens, simulated chargers, the demo."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from voltbridge import __version__
from voltbridge.core.errors import Conflict, VoltbridgeError

# The application is imported inside the commands that use it, so `--help` answers at once.
if TYPE_CHECKING:
    from voltbridge.app import App, Ports
    from voltbridge.config import Settings

log = logging.getLogger("voltbridge.cli")

FIRST_ADMIN = "admin@localhost"

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

T = TypeVar("T")


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


cli = typer.Typer(
    name="voltbridge",
    help="voltbridge, an open EV-charging backoffice: OCPP central system, REST API and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
user_cli = typer.Typer(help="Users of the API and portal.", no_args_is_help=True)
token_cli = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file with settings (keys as the VOLTBRIDGE_* variables without the prefix).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (about 30 % more throughput), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    result: T = uvloop.run(coroutine)
    return result


def load_settings(config: Path | None) -> Settings:
    """Settings from the environment and the optional file; a bad value ends the command (exit 2)."""
    from pydantic import ValidationError

    from voltbridge.config import Settings

    try:
        return Settings.load(config)
    except (ValidationError, OSError, ValueError) as exc:
        err.print(f"[red]voltbridge: invalid settings:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc


def _setup_logging(level: str) -> None:
    handler: logging.Handler
    if err.is_terminal:
        handler = RichHandler(console=err, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:  # a log file or a pipe: one plain line per record, never wrapped
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


@contextlib.contextmanager
def _failures_end_the_command() -> Iterator[None]:
    """Domain and database errors become one readable line and exit status 1."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except VoltbridgeError as exc:
        err.print(f"[red]voltbridge: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        err.print(
            f"[red]voltbridge: database error: {escape(str(exc.__cause__ or exc).splitlines()[0])}[/red]\n"
            "Is the database reachable, and migrated (`voltbridge migrate`)?"
        )
        raise typer.Exit(1) from exc


async def _with_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    """Build the services (no ports opened), run `work`, and close the database again."""
    from voltbridge.app import App

    app = App.build(settings)
    try:
        return await work(app)
    finally:
        await app.stop()


def _version(value: bool) -> None:
    if value:
        out.print(f"voltbridge {__version__}")
        raise typer.Exit()


@cli.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """voltbridge, an open EV-charging backoffice."""


@cli.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply pending database migrations."""
    from voltbridge.store import upgrade

    settings = load_settings(config)
    with _failures_end_the_command():
        run(upgrade(settings.database_url))
    out.print(f"database is up to date: {escape(_safe_url(settings.database_url))}")


@user_cli.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="The user's e-mail address (their login).")],
    role: Annotated[Role, typer.Option(help="admin: the whole platform; operator: one operator's things.")],
    password: Annotated[
        str | None, typer.Option(help="Password for the portal; the API uses tokens.")
    ] = None,
    operator_id: Annotated[int | None, typer.Option(help="The operator an operator user belongs to.")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="May look but not change anything.")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a user. Give them a token with `voltbridge token create`."""
    settings = load_settings(config)

    async def create(app: App) -> tuple[int, str]:
        user = await app.users.create(
            email, role=role.value, password=password, operator_id=operator_id, read_only=read_only
        )
        return user.id, user.email

    with _failures_end_the_command():
        user_id, address = run(_with_app(settings, create))
    flags = " read-only" if read_only else ""
    out.print(f"created user {user_id}: {escape(address)} ({role.value}{flags})")


@token_cli.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="Whose token: the user's e-mail address.")],
    name: Annotated[str, typer.Option(help="What the token is for, to recognise it later.")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Issue a bearer token and print it once (only its hash is stored)."""
    settings = load_settings(config)

    async def issue(app: App) -> str:
        user = await app.users.get_by_email(email)
        return (await app.users.issue_token(user.id, name)).token

    with _failures_end_the_command():
        token = run(_with_app(settings, issue))
    # The token alone on stdout, so that `TOKEN=$(voltbridge token create …)` works.
    err.print(f"token {escape(name)!r} for {escape(email)}; it is shown only now:")
    print(token, flush=True)


@cli.command()
def serve(
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not apply pending migrations first.")
    ] = False,
    log_level: Annotated[LogLevel, typer.Option(help="How much to log (on stderr).")] = LogLevel.INFO,
    config: ConfigOption = None,
) -> None:
    """Run the OCPP central system and the REST API until Ctrl-C or SIGTERM."""
    settings = load_settings(config)
    _setup_logging(log_level)
    with _failures_end_the_command():
        run(_serve(settings, migrate=not no_migrate))


@cli.command()
def simulate(
    url: Annotated[str, typer.Option(help="The backend's OCPP endpoint, without the station id.")] = (
        "ws://127.0.0.1:9000/ocpp"
    ),
    stations: Annotated[int, typer.Option(min=1, help="How many chargers.")] = 10,
    password: Annotated[str | None, typer.Option(help="HTTP Basic password of every charger.")] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds to run (default: until Ctrl-C).")] = None,
    meter_interval: Annotated[float, typer.Option(help="Seconds between MeterValues.")] = 10.0,
    prefix: Annotated[str, typer.Option(help="Station ids are PREFIX0001, PREFIX0002, …")] = "SIM",
    connectors: Annotated[int, typer.Option(min=1, help="Connectors per charger.")] = 2,
    load: Annotated[
        bool, typer.Option("--load", help="Send MeterValues back-to-back (needs --duration).")
    ] = False,
    ca_file: Annotated[Path | None, typer.Option(help="CA bundle for a wss:// url.")] = None,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No live view; only the summary.")
    ] = False,
) -> None:
    """Run simulated OCPP 1.6 chargers against a backend, with a live progress view."""
    from voltbridge import sim

    with _uvloop_policy():
        status = sim.main(
            url,
            stations,
            password=password,
            duration=duration,
            meter_interval=meter_interval,
            progress=not no_progress,
            prefix=prefix,
            connectors=connectors,
            load=load,
            ca_file=str(ca_file) if ca_file else None,
            console=out,
        )
    raise typer.Exit(status)


@cli.command()
def demo(
    stations: Annotated[int, typer.Option(min=1, help="How many simulated chargers.")] = 5,
    duration: Annotated[float | None, typer.Option(help="Seconds to run (default: until Ctrl-C).")] = None,
    meter_interval: Annotated[float, typer.Option(help="Seconds between MeterValues.")] = 10.0,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live view of the chargers.")] = False,
    config: ConfigOption = None,
) -> None:
    """Serve, seed demo stations and id tokens, and run simulated chargers against this server."""
    settings = load_settings(config)
    _setup_logging(LogLevel.WARNING)
    options = DemoOptions(
        stations=stations, duration=duration, meter_interval=meter_interval, progress=not no_progress
    )
    with _failures_end_the_command():
        run(_serve(settings, migrate=True, demo=options))


@dataclass(frozen=True)
class DemoOptions:
    stations: int
    duration: float | None
    meter_interval: float
    progress: bool
    prefix: str = "DEMO"

    def station_ids(self) -> list[str]:
        return [f"{self.prefix}{n:04d}" for n in range(1, self.stations + 1)]

    def id_tags(self) -> tuple[str, ...]:
        return tuple(f"DEMOTAG{n:03d}" for n in range(1, max(2, self.stations) + 1))


async def _serve(settings: Settings, *, migrate: bool, demo: DemoOptions | None = None) -> None:
    from voltbridge.app import App

    app = App.build(settings)
    ports = await app.start(migrate=migrate)
    try:
        stop = asyncio.Event()
        # After start: uvicorn installs its own signal handlers when it starts; these replace them,
        # so one handler (ours) decides when the whole process stops.
        _on_signals(stop.set)
        login = await _first_admin(app)
        _print_where(settings, ports, login)
        if demo is None:
            await stop.wait()
        else:
            await _run_demo(app, settings, ports, demo, stop)
    finally:
        await app.stop()


def _on_signals(handler: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)


async def _first_admin(app: App) -> str:
    """How to authenticate; on the very first start (no users, no admin token) an admin is made."""
    if app.settings.admin_token:
        return "Authorization: Bearer $VOLTBRIDGE_ADMIN_TOKEN (the admin token from the settings)"
    _, total = await app.users.get_all(limit=1)
    if total:
        return "Authorization: Bearer <token>  (make one: voltbridge token create --email you@example.com)"
    try:
        user = await app.users.create(FIRST_ADMIN, role="admin")
    except Conflict:  # another node of the cluster made it first
        return f"Authorization: Bearer <token>  (voltbridge token create --email {FIRST_ADMIN})"
    token = (await app.users.issue_token(user.id, "first start")).token
    return (
        f"Authorization: Bearer {token}\n"
        f"  that is the token of {FIRST_ADMIN}, a platform admin created on this first start; "
        "it is shown only now."
    )


def _print_where(settings: Settings, ports: Ports, login: str) -> None:
    host = _display_host(settings.host)
    lines = [
        f"[bold]voltbridge {__version__}[/bold] is running",
        f"  OCPP       ws://{host}:{ports.ocpp}/ocpp/{{station_id}}",
    ]
    if ports.ocpp_tls is not None:
        lines.append(f"  OCPP TLS   wss://{host}:{ports.ocpp_tls}/ocpp/{{station_id}}")
    lines += [
        f"  REST API   http://{host}:{ports.http}/api/v1",
        f"  API docs   http://{host}:{ports.http}/api/docs",
        f"  health     http://{host}:{ports.http}/healthz",
        f"  database   {escape(_safe_url(settings.database_url))}",
        f"Authenticate API calls with\n  {escape(login)}",
        "Press Ctrl-C to stop.",
    ]
    out.print("\n".join(lines))


async def _run_demo(
    app: App, settings: Settings, ports: Ports, demo: DemoOptions, stop: asyncio.Event
) -> None:
    from voltbridge.core.tokens.service import TokenChange
    from voltbridge.sim import ChargerConfig, FleetConfig, run_fleet

    for station_id in demo.station_ids():
        with contextlib.suppress(Conflict):
            await app.stations.register(station_id, description="demo charger")
    for uid in demo.id_tags():
        with contextlib.suppress(Conflict):
            await app.tokens.create(uid, TokenChange(description="demo card"))
    fleet = FleetConfig(
        url=f"ws://{_display_host(settings.host)}:{ports.ocpp}/ocpp",
        stations=demo.stations,
        prefix=demo.prefix,
        duration=demo.duration,
        charger=ChargerConfig(meter_interval=demo.meter_interval, id_tags=demo.id_tags(), jitter=0.2),
    )
    out.print(
        f"demo: {demo.stations} simulated chargers ({demo.prefix}0001 …) with cards {demo.id_tags()[0]} …"
    )
    stats = await run_fleet(fleet, progress=demo.progress, stop=stop, console=out)
    out.print(
        f"demo: {stats.booted} of {stats.stations} chargers booted, "
        f"{stats.sessions_started} sessions started, {stats.sessions_completed} completed"
    )


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by the database layer; here just don't echo it
        return "<database url>"


@contextlib.contextmanager
def _uvloop_policy() -> Iterator[None]:
    """Make `asyncio.run` inside the simulator use uvloop when it is installed; restored afterwards."""
    try:
        import uvloop
    except ImportError:
        yield
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(None)


def main() -> None:
    """The console script's entry point."""
    cli()


if __name__ == "__main__":
    main()
