"""portal/asgi_http.py: a request to an async view gets no thread of its own (its one sync step, closing the
response, runs on the process's shared sync thread); a request to a sync view keeps Django's thread per request.

Driven through the real ASGI handler with hand-made ASGI messages, as daphne sends them."""
import asyncio
import threading

import pytest
from django.core.signals import request_finished

from portal.asgi_http import PortalASGIHandler, serves_async_view

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.ALLOWED_HOSTS = ["testserver"]


def serve(paths: list[str]) -> tuple[list[int], list[str]]:
    """Status of each GET, and the name of the thread each request's end (response.close) ran on."""
    finished_on = []

    def note(**kwargs):
        finished_on.append(threading.current_thread().name)

    request_finished.connect(note)
    handler = PortalASGIHandler()

    async def get(path):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000),
                 "server": ("testserver", 80)}
        body = [{"type": "http.request", "body": b"", "more_body": False}]
        sent = []

        async def receive():
            if body:
                return body.pop()
            await asyncio.Event().wait()  # the client stays connected

        async def send(message):
            sent.append(message)

        await handler(scope, receive, send)
        return sent[0]["status"]

    async def main():
        return [await get(path) for path in paths]

    try:
        return asyncio.run(main()), finished_on
    finally:
        request_finished.disconnect(note)


def test_requests_to_an_async_view_share_one_sync_thread():
    assert serves_async_view("/api/chatbot/messages")
    statuses, threads = serve(["/api/chatbot/messages"] * 3)
    assert statuses == [405] * 3  # the view answered (POST only)
    assert len(threads) == 3 and len(set(threads)) == 1


def test_requests_to_a_sync_view_keep_a_thread_each():
    assert not serves_async_view("/accounts/login/")
    statuses, threads = serve(["/accounts/login/"] * 3)
    assert statuses == [200] * 3
    assert len(threads) == 3 and len(set(threads)) == 3


def test_unknown_paths_are_served_as_before():
    assert not serves_async_view("/no/such/page/")
    statuses, _ = serve(["/no/such/page/"])
    assert statuses == [404]
