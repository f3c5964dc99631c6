"""A served request leaves no reference cycle behind (portal/async_middleware.py, portal/asgi_http.py).

With Django's own middleware and handler every request was a cycle (request.user's closure and request.auser's
partial hold the request, the messages storage holds it, and the RequestAborted that ends each request holds the
handler's frame): everything it reached then waited for a full garbage collection. Measured under HTTP load:
~110 objects a request, full collections of ~100 ms. Here the cyclic collector is off while a request is served
through the real ASGI handler and middleware, as daphne drives it: the request must be gone once it is served.
"""
import asyncio
import gc
import logging
import weakref

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore

from portal.asgi_http import PortalASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.fixture(autouse=True)
def _no_request_log_records(monkeypatch):
    # pytest keeps every log record of a test, and Django's warnings about 4xx responses carry their request: that
    # alone would keep it alive here (a served process writes its records out and drops them).
    monkeypatch.setattr(logging.getLogger("django.request"), "disabled", True)


@pytest.fixture
def session_cookie(settings):
    user = get_user_model().objects.create_user("cyclist", password="pw-long-enough-1")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = next(b for b in settings.AUTHENTICATION_BACKENDS if "axes" not in b)
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


class RecordingHandler(PortalASGIHandler):
    """The production handler, keeping a weak reference to each request it creates."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        self.requests.append(weakref.ref(request))
        return request, error_response


def serve(handler, path: str, cookie: bytes | None) -> tuple[int, bytes]:
    """One GET through the handler; like daphne, the client's disconnect is sent once the response is done."""
    headers = [(b"host", b"testserver")] + ([(b"cookie", cookie)] if cookie else [])
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}

    async def main():
        sent, done = [], asyncio.Event()
        inbox = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if inbox:
                return inbox.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await handler(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return asyncio.run(main())


def served_with_the_collector_off(path: str, cookie: bytes | None) -> tuple[int, bytes, bool]:
    """Status, body, and whether the request object outlived its response (only the collector could free it)."""
    handler = RecordingHandler()
    serve(handler, path, cookie)  # warm: first-use caches are not per request
    gc.collect()
    gc.disable()
    try:
        status, body = serve(handler, path, cookie)
        outlived = handler.requests[-1]() is not None
    finally:
        gc.enable()
    return status, body, outlived


def test_a_logged_in_request_to_an_async_view_is_freed_when_it_ends(session_cookie):
    # The chat API's shape: request.auser() loads the session and the user; GET is refused after that.
    status, _, outlived = served_with_the_collector_off("/api/chatbot/messages", session_cookie)
    assert status == 405
    assert not outlived


def test_a_logged_in_request_to_a_sync_view_uses_request_user_and_is_freed(session_cookie):
    status, body, outlived = served_with_the_collector_off("/api/chatbot/sessions", session_cookie)
    assert status == 200 and b'"sessions"' in body  # request.user resolved through its weak reference
    assert not outlived


def test_an_anonymous_request_is_freed_too():
    status, _, outlived = served_with_the_collector_off("/api/chatbot/sessions", None)
    assert status == 401
    assert not outlived
