"""Django's own middleware, with hooks that only compute run on the event loop instead of in a thread.

Under ASGI, Django's MiddlewareMixin runs every process_request/process_view/process_response through
sync_to_async(thread_sensitive=True): each is a hop to one shared thread and back. A chat request crossed ten of
them (two to three per middleware), and at high concurrency every request queued for that single thread. The
hooks of the classes below touch no database and no network, so they are called directly when the chain is async;
the two that can write (a modified session, queued messages) still go to the thread when they have to.

Subclasses keep Django's behaviour and its system checks: the admin's and Axes' checks accept subclasses. (The
CSRF, security and clickjacking checks want Django's exact paths, hence SILENCED_SYSTEM_CHECKS security.W001-W003
in settings: tests/unit/test_api_tokens_and_csrf.py proves CSRF is enforced, and portal/checks.py runs Django's
deploy checks of the security settings for these subclasses.)

The security middleware matters most: its process_request was the first hop of every request, and the thread it
went to is the request's own (Django's ThreadSensitiveContext), which then stayed alive, idle, for as long as the
request waited for the LLM. Inline, an API chat request holds no thread while it waits (with portal/apps.py).
"""
from __future__ import annotations

import weakref
from functools import partial

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security
from django.utils.functional import SimpleLazyObject

from .db import run_db


class InlineHooks:
    """Mix in before a MiddlewareMixin subclass whose hooks do no I/O."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode and hasattr(self, "process_view"):
            # The handler adapts process_view by its type: an async one is awaited in place, not sent to a thread.
            sync_process_view = self.process_view

            async def process_view(request, view_func, view_args, view_kwargs):
                return sync_process_view(request, view_func, view_args, view_kwargs)

            self.process_view = process_view

    def response_needs_thread(self, request) -> bool:
        """True when process_response will do I/O for this request (then it runs in the thread, as in Django)."""
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    """An HTTPS redirect and security headers: computed from settings and the request alone."""


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """One header, computed from settings and the response."""


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    """process_request only attaches a lazy store; process_response saves only a modified session."""

    def response_needs_thread(self, request) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    """The token comes from the cookie (CSRF_USE_SESSIONS is off) and a form body is already in memory."""


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    """Attaches the lazy request.user, and a request.auser() that loads the session and its user in one call on
    the database pool (Django's own awaits two: the session, then the user).

    Both hold the request weakly. Django's hold it strongly (a closure and a partial stored on the request itself),
    a reference cycle: every request, with everything it reached (session, user, headers, daphne's own request
    object: ~100 objects), then outlived its response until a full garbage collection found it -- 10 or so full
    collections in 15 s at HTTP concurrency 100, ~100 ms each. Without the cycle it is freed when it ends.
    """

    def process_request(self, request):
        super().process_request(request)  # its check that the session middleware runs first
        request_ref = weakref.ref(request)
        request.user = SimpleLazyObject(partial(_user, request_ref))
        if self.async_mode:
            request.auser = partial(_auser, request_ref)


def _user(request_ref):
    return get_user(request_ref())


async def _auser(request_ref):
    request = request_ref()
    if not hasattr(request, "_acached_user"):
        request._acached_user = await run_db(get_user, request)
    return request._acached_user


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    """Messages are stored (cookie or session) only when some were added or shown. The storage sees the request
    through a weak proxy: Django's holds it strongly from an attribute of the request, a reference cycle (see
    AuthenticationMiddleware)."""

    def process_request(self, request):
        request._messages = default_storage(weakref.proxy(request))

    def response_needs_thread(self, request) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)
