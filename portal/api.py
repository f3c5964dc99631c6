"""One decorator for every JSON API view: allowed methods, login, and errors as JSON (never an HTML page)."""

from __future__ import annotations

import functools
import inspect

from django.core.exceptions import PermissionDenied
from django.http import Http404, RawPostDataException
from django.middleware.csrf import REASON_NO_CSRF_COOKIE, CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from .db import run_db
from .http import InvalidInput, invalid_input_response, json_error


def _method_refusal(request, methods):
    if request.method not in methods:
        response = json_error(f"Method {request.method} is not allowed here.", 405)
        response["Allow"] = ", ".join(methods)
        return response
    return None


def _auth_refusal(user):
    return None if user.is_authenticated else json_error("Authentication required.", 401)


def _check(request, user, methods):
    refusal = _method_refusal(request, methods)
    return refusal if refusal is not None else _auth_refusal(user)


def _csrf_refusal(request):
    """The API's views are exempt from CsrfViewMiddleware so that a request authenticated by an API token needs no
    CSRF token (a script holds no cookie a cross-site request could ride on); every other request is checked here,
    by Django's own check (as Django REST framework does for session authentication)."""
    if getattr(request, "api_token_user", None) is not None:
        return None
    return CsrfViewMiddleware(lambda _: None).process_view(request, None, (), {})


async def request_user(request):
    """`request.user` for an async view, read on the database pool (see `_admit` for why not `request.auser()`)."""
    return await run_db(_loaded_user, request)


def _loaded_user(request):
    user = request.user
    user.is_authenticated  # noqa: B018 - reads the lazy user (session, then user row) here, on the pool
    return user


def _admit(request, preload, args, kwargs):
    """On the database pool, not on the request's own thread: who is asking (the session's user, read from the
    database), the CSRF check, then the view's preload. Django's `request.auser()` would read the session and the
    user on the request's thread, whose connection then stays open until the response is sent — for a chat
    request, while it waits seconds for the model (a connection per waiting user)."""
    user = request.user
    refusal = _auth_refusal(user) or _csrf_refusal(request)
    if refusal is not None or preload is None:
        return refusal, None
    return None, preload(request, user, *args, **kwargs)


def json_api(*methods: str, preload=None):
    """For an async view, `request.user` is loaded (on the database pool) before the view runs.
    `preload(request, user, *args, **kwargs)`, for an async view: sync code that reads what the view needs (on
    the database pool, signed-in users only). Its result reaches the view as the keyword argument `preloaded`; it
    may raise what a view may raise."""

    def decorate(view):
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request, *args, **kwargs):
                if (refusal := _method_refusal(request, methods)) is not None:
                    return refusal
                try:
                    refusal, preloaded = await run_db(_admit, request, preload, args, kwargs)
                    if refusal is not None:
                        return refusal
                    if preload is not None:
                        kwargs["preloaded"] = preloaded
                    return await view(request, *args, **kwargs)
                except InvalidInput as exc:
                    return invalid_input_response(exc)
                except Http404 as exc:
                    return json_error(str(exc) or "Not found.", 404)
                except RawPostDataException:
                    return _not_json()
                except PermissionDenied as exc:
                    return json_error(str(exc) or "Not allowed.", 403)

            return csrf_exempt(async_wrapper)

        if preload is not None:
            raise TypeError("preload is for async views (a sync view reads on its own thread anyway)")

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if (refusal := _check(request, request.user, methods) or _csrf_refusal(request)) is not None:
                return refusal
            try:
                return view(request, *args, **kwargs)
            except InvalidInput as exc:
                return invalid_input_response(exc)
            except Http404 as exc:
                return json_error(str(exc) or "Not found.", 404)
            except RawPostDataException:
                return _not_json()
            except PermissionDenied as exc:
                return json_error(str(exc) or "Not allowed.", 403)

        return csrf_exempt(wrapper)

    return decorate


def _not_json():
    # A multipart form: Django read it as form data (for the CSRF check), so there is no body left to read as JSON.
    return json_error("Send the request body as JSON (Content-Type: application/json), not as a form.", 415)


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: API clients get a JSON 403 saying what to send; pages the styled templates/403_csrf.html
    (Django's own view would render that template without the request, so without the page's navigation)."""
    if request.path.startswith("/api/"):
        return json_error(
            "CSRF check failed: send the csrftoken cookie's value in an X-CSRFToken header, "
            "or authenticate with an API token (Authorization: Bearer …) instead of the session.",
            403,
        )
    context = {"reason": reason, "no_cookie": reason == REASON_NO_CSRF_COOKIE}
    return render(request, "403_csrf.html", context, status=403)
