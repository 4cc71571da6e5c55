"""The simulator's public face, its import rule, and TLS."""

from __future__ import annotations

import ast
import ssl
import sys
from pathlib import Path

import trustme

import voltbridge.sim
from tests.sim.central import CentralSystem
from tests.sim.conftest import FAST
from voltbridge.sim import SimulatedCharger

SIM = Path(voltbridge.sim.__file__).parent
ALLOWED_PACKAGES = {"ocpp", "websockets", "rich"}


def test_public_api_is_exported_from_the_package() -> None:
    exported = set(voltbridge.sim.__all__)
    assert {"SimulatedCharger", "ChargerConfig", "FleetConfig", "FleetStats", "run_fleet", "main"} <= exported
    assert all(hasattr(voltbridge.sim, name) for name in exported)


def test_the_room_imports_only_ocpp_websockets_rich_and_the_standard_library() -> None:
    offenders: list[str] = []
    for path in sorted(SIM.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                inside = name == "voltbridge.sim" or name.startswith("voltbridge.sim.")
                if not (
                    inside or top in ALLOWED_PACKAGES or top in sys.stdlib_module_names or top == "__future__"
                ):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


async def test_charger_connects_over_tls_with_the_given_context() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    central = CentralSystem()
    central.passwords["TLS0001"] = "pw"
    async with central.serving(tls=server_context):
        assert central.url.startswith("wss://")
        charger = SimulatedCharger("TLS0001", central.url, password="pw", ssl=client_context, config=FAST)
        async with charger.running():
            await charger.wait_for(lambda c: c.booted)
        # Without the CA the handshake fails, and the charger says why.
        stranger = SimulatedCharger(
            "TLS0001", central.url, password="pw", ssl=ssl.create_default_context(), config=FAST
        )
        async with stranger.running():
            await stranger.wait_for(lambda c: c.errors >= 1)
            assert stranger.last_error is not None and "CERTIFICATE" in stranger.last_error.upper()
