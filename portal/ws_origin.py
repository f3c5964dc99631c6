"""Only pages of the portal itself may open its WebSockets (cross-site WebSocket hijacking).

A browser sends the page's origin with every WebSocket handshake, and sends the user's cookies whatever the page: a
page on http://127.0.0.1:9999 could otherwise open the user's chat socket on the portal's port and chat as her.
Channels' AllowedHostsOriginValidator compares the origin's host with ALLOWED_HOSTS and ignores the port (and the
scheme), so it let that page in. Here the origin must be the portal's own: the same host and port as the address
the handshake came to (its Host header, itself one of ALLOWED_HOSTS), or one of CSRF_TRUSTED_ORIGINS exactly.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _netloc(scheme: str, host: str, port: int | None) -> tuple[str, int | None]:
    return host.lower().strip("[]"), port if port is not None else DEFAULT_PORTS.get(scheme)


def origin_allowed(origin: str, host_header: str) -> bool:
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    host, _ = split_domain_port(host_header)
    if not host or not validate_host(host, settings.ALLOWED_HOSTS):
        return False
    try:
        host_parts = urlsplit(f"{parts.scheme}://{host_header}")
        host_port = host_parts.port
    except ValueError:
        return False
    # The page's scheme decides the default port of both: behind a TLS proxy the browser says https and the Host
    # header carries no port, which is 443 for both.
    return _netloc(parts.scheme, parts.hostname, origin_port) == _netloc(
        parts.scheme, host_parts.hostname or "", host_port
    )


class SameOriginValidator:
    """ASGI middleware for the websocket protocol: refuses (HTTP 403) a handshake from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if scope["type"] == "websocket" and not origin_allowed(origin, host):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
