"""The WebSocket front door (portal/asgi.py), driven with Channels' WebsocketCommunicator: only the portal's own
origin (scheme, host and port) gets in, unrouted paths are closed with 4404, and hostile frames get an error event."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from portal.asgi import application
from portal.ws_origin import origin_allowed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port on the same host: cross-site
        ("https://127.0.0.1:8000", "127.0.0.1:8000", True),  # the scheme's own port is the one written
        ("https://portal.example.org", "portal.example.org", False),  # not in ALLOWED_HOSTS (test settings)
        ("http://localhost", "localhost", True),
        ("http://localhost", "localhost:8000", False),
        ("http://evil.example", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("", "127.0.0.1:8000", False),
        ("http://127.0.0.1:notaport", "127.0.0.1:8000", False),
    ],
)
def test_only_the_portals_own_origin_is_allowed(origin, host, allowed):
    assert origin_allowed(origin, host) is allowed


def test_a_trusted_origin_is_allowed_exactly(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.org"]
    assert origin_allowed("https://portal.example.org", "127.0.0.1:8001")  # behind a proxy on another port
    assert not origin_allowed("https://portal.example.org:8443", "127.0.0.1:8001")


def handshake(path, origin="http://localhost", host="localhost", cookie=None):
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.mark.parametrize("path", ["/ws/chat/-1/", "/ws/chat/abc/", "/ws/nothing/", "/ws/maze/1/extra/"])
def test_unrouted_socket_paths_close_with_4404(path):
    async def scenario():
        communicator = handshake(path)
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_output())["code"] == 4404
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_a_socket_from_another_port_is_refused():
    async def scenario():
        communicator = handshake("/ws/chat/1/", origin="http://localhost:9999", host="localhost:8000")
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_deeply_nested_frame_gets_an_error_event_not_a_1011(client, session):
    client.force_login(session.owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def scenario():
        communicator = handshake(f"/ws/chat/{session.id}/", cookie=cookie)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_to(text_data="[" * 30000)
        event = json.loads(await communicator.receive_from())
        assert event["type"] == "chat.error" and event["code"] == "invalid"
        await communicator.send_to(text_data=json.dumps({"type": "chat.message", "content": "a\ud800b"}))
        event = json.loads(await communicator.receive_from())
        assert event["code"] == "invalid" and "surrogate" in event["detail"]
        await communicator.disconnect()

    async_to_sync(scenario)()
