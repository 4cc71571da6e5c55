"""A leg to a wss:// upstream: a private CA to trust and a client certificate of its own."""

from __future__ import annotations

import ssl

import trustme
from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.conftest import UpstreamFactory, is_connected, wait_state
from voltbridge.app import App
from voltbridge.core.upstreams import LegStatus, Role, UpstreamChange, UpstreamSpec


async def test_a_leg_shows_its_client_certificate_to_a_tls_upstream(
    app: App, upstream: UpstreamFactory
) -> None:
    ca = trustme.CA()
    leg_cert = ca.issue_cert("cp1.legs.example")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED  # no certificate, no connection

    secure = await upstream("secure", tls=server_context)

    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        created = await app.upstreams.create(
            "CP1", UpstreamSpec(url=secure.url, role=Role.DATA_CONTROL, ca_cert=ca.cert_pem.bytes().decode())
        )
        state = await wait_state(app, created.id, lambda s: s.status is LegStatus.BACKING_OFF)
        assert state.last_error is not None and secure.connections == 0

        await app.upstreams.update(
            "CP1",
            created.id,
            UpstreamChange(
                client_cert=leg_cert.cert_chain_pems[0].bytes().decode(),
                client_key=leg_cert.private_key_pem.bytes().decode(),
            ),
        )
        await wait_state(app, created.id, is_connected)
        await cp.call(call.Heartbeat())
        await secure.wait(lambda: "Heartbeat" in secure.actions("CP1"))
    shown = secure.certificates["CP1"]
    assert ("DNS", "cp1.legs.example") in shown["subjectAltName"]
