"""Django's ASGI handler, without a thread of its own for each request to an async view, and without the
reference cycle that made every request wait for a full garbage collection (listen_for_disconnect below).

Django's handler gives every request a ThreadSensitiveContext: its sync code runs on a thread made for that
request, started on first use and stopped at the end. Sync views need that (two slow ones must not queue behind
each other). An async view -- the chat API, which is most HTTP traffic -- runs no sync code of its own; the
only sync step of its request is `response.close()`, which Django still sends to that per-request thread, so
every chat request started and stopped a thread just for it (measured: the thread pool's bookkeeping alone was
~6 % of daphne's CPU under load). Here those requests run without the context, and close their response on the
event loop itself (handle_async_view); what still needs a thread (a modified session's save) goes to the process's
one shared sync thread. Sync views keep Django's behaviour.
"""
from __future__ import annotations

import asyncio
import functools

from asgiref.sync import iscoroutinefunction
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import Resolver404, get_resolver, set_script_prefix


@functools.lru_cache(maxsize=4096)
def serves_async_view(path: str) -> bool:
    """Whether `path` resolves to an async view (ids in paths make many entries, hence a bounded cache)."""
    try:
        return iscoroutinefunction(get_resolver().resolve(path).func)
    except Resolver404:
        return False


class PortalASGIHandler(ASGIHandler):
    async def listen_for_disconnect(self, receive):
        """Django's raises RequestAborted on the client's disconnect, which daphne sends once a response is done,
        so for every request. handle() re-raises it from the finished task and ignores it -- and the exception's
        traceback then holds handle()'s frame, which holds the task, which holds the exception: a reference cycle
        that kept every request's objects alive until a full garbage collection. Ending the task normally is the
        same to handle() (it treats both as "the client went away") and leaves no cycle."""
        try:
            await super().listen_for_disconnect(receive)
        except RequestAborted:
            return

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not scope.get("root_path") and serves_async_view(scope["path"]):
            await self.handle_async_view(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def handle_async_view(self, scope, receive, send):
        """Django 5.2's handle(), except that the response is closed right here on the event loop.

        Django sends `response.close()` to a thread (sync_to_async) for every request: a round trip through the
        executor and back, ~5 % of daphne's CPU per chat request. For an async view nothing in it needs a thread:
        its receivers (request_finished: close_old_connections, reset_queries, close_caches, reset_urlconf) act on
        what this thread and context opened, and an async view opens no database connection on the event loop
        (portal/db.py runs every query on the pool, whose threads close their own). The rest is Django's code,
        unchanged; tests/unit/test_asgi_http.py fails when Django's handle() changes, so this copy is re-read.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected during send_response
            return response

        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            response.close()
        body_file.close()

