"""`/healthz` and `/metrics` (Prometheus text exposition format 0.0.4), both without authentication."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from voltbridge.api.deps import Services, ServicesDep

log = logging.getLogger(__name__)

router = APIRouter(tags=["system"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/healthz",
    summary="Whether this node can serve: the database answers",
    responses={503: {"description": "the database does not answer"}},
)
async def healthz(services: ServicesDep) -> JSONResponse:
    try:
        async with services.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not healthy", never a 500
        log.warning("health check: database unreachable: %r", exc)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    return PlainTextResponse(render(collect(services)), media_type=PROMETHEUS_TEXT)


Labels = tuple[tuple[str, str], ...]


@dataclass
class Metric:
    """One metric family: a name, its help text, its type and its samples (labels, value)."""

    name: str
    help: str
    kind: str  # counter | gauge
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Metric:
        self.samples.append((tuple(sorted(labels.items())), value))
        return self


def collect(services: Services) -> list[Metric]:
    """The node's current figures."""
    connections = list(services.gateway.connections.values())
    calls_in = Metric(
        "voltbridge_ocpp_calls_received",
        "CALLs received from chargers on the sockets open now, by action",
        "gauge",
    )
    per_action: dict[str, int] = {}
    for conn in connections:
        for action, count in conn.stats.actions_in.items():
            per_action[action] = per_action.get(action, 0) + count
    for action, count in sorted(per_action.items()):
        calls_in.add(count, action=action)
    writer = services.meter_writer
    metrics = [
        Metric("voltbridge_stations_connected", "Chargers with an open socket on this node", "gauge").add(
            len(connections)
        ),
        calls_in,
        Metric("voltbridge_ocpp_calls_sent", "CALLs sent to chargers on the sockets open now", "gauge").add(
            sum(c.stats.calls_out for c in connections)
        ),
        Metric(
            "voltbridge_ocpp_errors_sent", "CALLERRORs sent to chargers on the sockets open now", "gauge"
        ).add(sum(c.stats.errors_sent for c in connections)),
        Metric(
            "voltbridge_ocpp_call_timeouts",
            "Commands chargers did not answer in time (sockets open now)",
            "gauge",
        ).add(sum(c.stats.timeouts for c in connections)),
        Metric(
            "voltbridge_ocpp_quirks",
            "Schema quirks accepted from lenient chargers (sockets open now)",
            "gauge",
        ).add(sum(c.stats.quirks for c in connections)),
        Metric("voltbridge_ocpp_commands_waiting", "Commands queued behind a CALL in flight", "gauge").add(
            sum(c.stats.waiting for c in connections)
        ),
        Metric("voltbridge_meter_rows_written_total", "Meter-value rows committed", "counter").add(
            writer.rows_written
        ),
        Metric("voltbridge_meter_batches_total", "Meter-value batch commits", "counter").add(writer.batches),
        Metric("voltbridge_meter_queue_depth", "Meter-value messages waiting for a commit", "gauge").add(
            writer.depth
        ),
        Metric(
            "voltbridge_authorization_fallbacks_total",
            "Authorizations decided by the fallback because the authority did not answer",
            "counter",
        ).add(services.authorization.fallbacks_used),
    ]
    delivered = Metric("voltbridge_bus_events_delivered_total", "Events handled by a subscriber", "counter")
    dropped = Metric(
        "voltbridge_bus_events_dropped_total",
        "Meter readings dropped at a subscriber's queue limit",
        "counter",
    )
    coalesced = Metric(
        "voltbridge_bus_events_coalesced_total",
        "Meter readings replaced in a subscriber's queue by a newer one of the same transaction",
        "counter",
    )
    failed = Metric("voltbridge_bus_events_failed_total", "Events a subscriber raised on", "counter")
    depth = Metric("voltbridge_bus_queue_depth", "Events waiting in a subscriber's queue", "gauge")
    for stats in services.bus.stats():
        delivered.add(stats.delivered, subscription=stats.name)
        dropped.add(stats.dropped, subscription=stats.name)
        coalesced.add(stats.coalesced, subscription=stats.name)
        failed.add(stats.failed, subscription=stats.name)
        depth.add(stats.depth, subscription=stats.name)
    return [*metrics, delivered, dropped, coalesced, failed, depth]


def render(metrics: Iterable[Metric]) -> str:
    """The Prometheus text format: HELP and TYPE lines, then one line per sample."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            lines.append(
                f"{metric.name}{{{label_text}}} {_number(value)}"
                if labels
                else f"{metric.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
