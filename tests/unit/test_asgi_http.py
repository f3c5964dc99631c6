"""portal/asgi_http.py: a request to an async view gets no thread at all (closing its response runs on the event
loop); a request to a sync view keeps Django's thread per request.

Driven through the real ASGI handler with hand-made ASGI messages, as daphne sends them."""
import asyncio
import hashlib
import inspect
import threading

import pytest
from django.core.handlers.asgi import ASGIHandler
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
        finished_on.append(f"loop: {threading.current_thread().name}")
        return [await get(path) for path in paths]

    try:
        return asyncio.run(main()), finished_on
    finally:
        request_finished.disconnect(note)


def test_requests_to_an_async_view_end_on_the_event_loop_without_a_thread():
    assert serves_async_view("/api/chatbot/messages")
    statuses, threads = serve(["/api/chatbot/messages"] * 3)
    assert statuses == [405] * 3  # the view answered (POST only)
    loop_thread = threads.pop(0).removeprefix("loop: ")
    assert threads == [loop_thread] * 3  # request_finished still sent, once per request, on the loop's thread


def test_requests_to_a_sync_view_keep_a_thread_each():
    assert not serves_async_view("/accounts/login/")
    statuses, threads = serve(["/accounts/login/"] * 3)
    assert statuses == [200] * 3
    loop_thread = threads.pop(0).removeprefix("loop: ")
    assert len(threads) == 3 and len(set(threads)) == 3 and loop_thread not in threads


def test_the_copy_of_djangos_handle_is_of_the_django_installed():
    """handle_async_view is Django 5.2's handle() with one line changed: when Django's changes, re-read the copy
    (and then update this digest)."""
    source = inspect.getsource(ASGIHandler.handle)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "98faeb5bef800331e6a8002fbc96b30e4122a23438ae45a047190a531ea11323"), "Django's ASGIHandler.handle changed"


def test_unknown_paths_are_served_as_before():
    assert not serves_async_view("/no/such/page/")
    statuses, _ = serve(["/no/such/page/"])
    assert statuses == [404]
