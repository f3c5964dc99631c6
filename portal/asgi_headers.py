"""Security headers on every HTTP response daphne sends, including what Django's middleware never sees.

Static files are served by Django's ASGIStaticFilesHandler outside the middleware, so they came without the
Content-Security-Policy and X-Frame-Options every page has. This ASGI wrapper adds each of these headers to a response
that does not carry it already (Django's own responses always do, so nothing of theirs changes).
"""

from __future__ import annotations

from django.conf import settings


def security_headers() -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-frame-options", settings.X_FRAME_OPTIONS.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()),
    ]
    if settings.CONTENT_SECURITY_POLICY:
        headers.append((b"content-security-policy", settings.CONTENT_SECURITY_POLICY.encode()))
    return headers


class SecurityHeaders:
    def __init__(self, application):
        self.application = application
        self.headers = security_headers()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                missing = [(name, value) for name, value in self.headers if name not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", []), *missing]}
            await send(message)

        return await self.application(scope, receive, send_with_headers)
