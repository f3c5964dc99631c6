"""Django's ASGI handler, without a thread of its own for each request to an async view, and without the
reference cycle that made every request wait for a full garbage collection (listen_for_disconnect below).

Django's handler gives every request a ThreadSensitiveContext: its sync code runs on a thread made for that
request, started on first use and stopped at the end. Sync views need that (two slow ones must not queue behind
each other). An async view -- the chat API, which is most HTTP traffic -- runs no sync code of its own; the
only sync step of its request is `response.close()`, which Django still sends to that per-request thread, so
every chat request started and stopped a thread just for it (measured: the thread pool's bookkeeping alone was
~6 % of daphne's CPU under load). Here those requests run without the context, so that step (and a modified
session's save) runs on the process's one shared sync thread instead; sync views keep Django's behaviour.
"""
from __future__ import annotations

import functools

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.urls import Resolver404, get_resolver


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
            await self.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

