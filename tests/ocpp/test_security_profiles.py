"""Security profiles 2 (TLS + Basic) and 3 (TLS client certificate), with certificates made here."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
import websockets

from tests.chargers import connected
from tests.conftest import AppFactory
from voltbridge.app import App


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_app(make_app: AppFactory, ca: trustme.CA, tmp_path: Path) -> App:
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return await make_app(http=False, tls_cert=cert, tls_key=key, tls_ca=ca_file)


def client_context(ca: trustme.CA, certificate_for: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    if certificate_for is not None:
        ca.issue_cert(certificate_for, common_name=certificate_for).configure_cert(context)
    return context


def wss(app: App) -> str:
    return f"wss://127.0.0.1:{app.ports.ocpp_tls}/ocpp"


async def test_profile_2_tls_with_basic_auth(tls_app: App, ca: trustme.CA) -> None:
    await tls_app.stations.register("CP2", password="profile-two-secret")
    async with connected(
        wss(tls_app), "CP2", password="profile-two-secret", ssl_context=client_context(ca)
    ) as cp:
        assert (await cp.boot()).status == "Accepted"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connected(wss(tls_app), "CP2", password="not-the-secret", ssl_context=client_context(ca)):
            pass
    assert refused.value.response.status_code == 401


async def test_profile_3_client_certificate_naming_the_station(tls_app: App, ca: trustme.CA) -> None:
    await tls_app.stations.register("CP3", password="only-for-profile-two")
    async with connected(wss(tls_app), "CP3", ssl_context=client_context(ca, "CP3")) as cp:
        assert (await cp.boot()).status == "Accepted"
    # A valid certificate of another station does not open this one.
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connected(wss(tls_app), "CP3", ssl_context=client_context(ca, "OTHER")):
            pass
    assert refused.value.response.status_code == 401


async def test_certificate_from_an_unknown_ca_fails_the_tls_handshake(tls_app: App, ca: trustme.CA) -> None:
    await tls_app.stations.register("CP3")
    stranger = trustme.CA()
    context = client_context(ca)
    stranger.issue_cert("CP3", common_name="CP3").configure_cert(context)
    with pytest.raises((ssl.SSLError, ConnectionError, websockets.InvalidHandshake, EOFError)):
        async with connected(wss(tls_app), "CP3", ssl_context=context) as cp:
            await cp.boot()
