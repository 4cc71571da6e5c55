"""How fast the gateway's hot path reads frames and validates payloads.

    .venv/bin/python bench/codec.py [--seconds 0.5]

Prints operations per second (best of three runs) for:
- MeterValues validation: our compiled validators (fastjsonschema) against the ``ocpp`` package's
  path (a cached ``jsonschema`` Draft4Validator from ``ocpp.messages.get_validator``), both versions;
  and our lenient path for a payload that needs fixing;
- frames: ``frames.decode`` and ``frames.encode`` of a MeterValues CALL, next to the stdlib ``json``
  and ``orjson`` doing only the JSON part.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import orjson
from ocpp.messages import get_validator

from voltbridge.ocpp.frames import Call, decode, encode
from voltbridge.ocpp.protocol import OcppVersion
from voltbridge.ocpp.validation import Validators

AT = "2024-05-01T10:00:00Z"
MEASURANDS = [
    ("Energy.Active.Import.Register", "Wh"),
    ("Power.Active.Import", "W"),
    ("Current.Import", "A"),
    ("Voltage", "V"),
]


def meter_values_16() -> dict[str, object]:
    """A typical 1.6 MeterValues: one sample of four measurands on one phase."""
    sampled = [
        {"value": f"{1234.5 + i}", "context": "Sample.Periodic", "measurand": m, "unit": u, "phase": "L1"}
        for i, (m, u) in enumerate(MEASURANDS)
    ]
    return {"connectorId": 1, "transactionId": 42, "meterValue": [{"timestamp": AT, "sampledValue": sampled}]}


def meter_values_201() -> dict[str, object]:
    """The same readings as 2.0.1 sends them."""
    sampled = [
        {
            "value": 1234.5 + i,
            "context": "Sample.Periodic",
            "measurand": m,
            "unitOfMeasure": {"unit": u},
            "phase": "L1",
        }
        for i, (m, u) in enumerate(MEASURANDS)
    ]
    return {"evseId": 1, "meterValue": [{"timestamp": AT, "sampledValue": sampled}]}


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second, best of three runs of about `seconds` each."""
    batch = 1
    while True:  # size a batch that takes about a tenth of a run
        started = time.perf_counter()
        for _ in range(batch):
            operation()
        if time.perf_counter() - started > seconds / 10:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        done = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(batch):
                operation()
            done += batch
        best = max(best, done / elapsed)
    return best


def main() -> None:
    """Run every measurement and print one line per measurement."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one run (default 0.5)")
    seconds = parser.parse_args().seconds

    v16, v201 = Validators.for_version(OcppVersion.V16), Validators.for_version(OcppVersion.V201)
    p16, p201 = meter_values_16(), meter_values_201()
    quirky = meter_values_201()
    quirky["meterValue"][0]["sampledValue"][0]["value"] = "1234.5"  # type: ignore[index]
    jsonschema16 = get_validator(2, "MeterValues", "1.6")
    jsonschema201 = get_validator(2, "MeterValues", "2.0.1")

    frame = Call("9f3a1c-17", "MeterValues", p16)
    text = encode(frame)
    raw = text.encode()

    rows: list[tuple[str, Callable[[], object]]] = [
        (
            "validate MeterValues 1.6, ours (acceptor)",
            lambda: v16.check_request("MeterValues", p16, lenient=False),
        ),
        ("validate MeterValues 1.6, ocpp's jsonschema", lambda: jsonschema16.validate(p16)),
        (
            "validate MeterValues 2.0.1, ours (acceptor)",
            lambda: v201.check_request("MeterValues", p201, lenient=False),
        ),
        ("validate MeterValues 2.0.1, ocpp's jsonschema", lambda: jsonschema201.validate(p201)),
        (
            "validate MeterValues 2.0.1, lenient, 1 quirk",
            lambda: v201.check_request("MeterValues", quirky, lenient=True),
        ),
        (f"frames.decode MeterValues ({len(raw)} bytes) from str", lambda: decode(text, OcppVersion.V16)),
        ("frames.decode MeterValues from bytes", lambda: decode(raw, OcppVersion.V16)),
        ("  json.loads alone (stdlib)", lambda: json.loads(text)),
        ("  orjson.loads alone", lambda: orjson.loads(text)),
        ("frames.encode MeterValues", lambda: encode(frame)),
        (
            "  json.dumps alone (stdlib, compact)",
            lambda: json.dumps(
                [2, frame.unique_id, frame.action, p16], separators=(",", ":"), ensure_ascii=False
            ),
        ),
    ]
    v16.check_request("MeterValues", p16, lenient=False)  # compile outside the measurement
    v201.check_request("MeterValues", p201, lenient=False)
    width = max(len(name) for name, _ in rows)
    for name, operation in rows:
        print(f"{name:<{width}}  {rate(operation, seconds):>12,.0f} /s", flush=True)


if __name__ == "__main__":
    main()
