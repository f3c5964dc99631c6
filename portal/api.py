"""One decorator for every JSON API view: allowed methods, login, and errors as JSON (never an HTML page)."""
from __future__ import annotations

import functools
import inspect

from django.core.exceptions import PermissionDenied
from django.http import Http404, RawPostDataException

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


def _user_and_preload(request, preload, args, kwargs):
    """On a database thread: the request's user, and for a signed-in one what `preload` reads (else None)."""
    user = request.user  # lazy (async_middleware.AuthenticationMiddleware): the session and user are read here
    if not user.is_authenticated:
        return user, None
    request._acached_user = user  # what request.auser() returns from now on, without another hop
    return user, preload(request, user, *args, **kwargs)


def json_api(*methods: str, preload=None):
    """`preload(request, user, *args, **kwargs)`, for an async view: sync code that reads what the view needs, run
    in the same database hop that loads the user (signed-in users only; one hop of ~0.15 ms less per request).
    Its result reaches the view as the keyword argument `preloaded`; it may raise what a view may raise."""
    def decorate(view):
        if inspect.iscoroutinefunction(view):
            @functools.wraps(view)
            async def async_wrapper(request, *args, **kwargs):
                if (refusal := _method_refusal(request, methods)) is not None:
                    return refusal
                try:
                    if preload is None:
                        user = await request.auser()
                    else:
                        user, kwargs["preloaded"] = await run_db(_user_and_preload, request, preload, args, kwargs)
                    if (refusal := _auth_refusal(user)) is not None:
                        return refusal
                    return await view(request, *args, **kwargs)
                except InvalidInput as exc:
                    return invalid_input_response(exc)
                except Http404 as exc:
                    return json_error(str(exc) or "Not found.", 404)
                except RawPostDataException:
                    return _not_json()
                except PermissionDenied as exc:
                    return json_error(str(exc) or "Not allowed.", 403)

            return async_wrapper

        if preload is not None:
            raise TypeError("preload is for async views (a sync view reads on its own thread anyway)")

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if (refusal := _check(request, request.user, methods)) is not None:
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

        return wrapper

    return decorate


def _not_json():
    # A multipart form: Django read it as form data (for the CSRF check), so there is no body left to read as JSON.
    return json_error("Send the request body as JSON (Content-Type: application/json), not as a form.", 415)


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: API clients get a JSON 403 saying what to send; pages keep Django's HTML page."""
    if request.path.startswith("/api/"):
        return json_error(
            "CSRF check failed: send the csrftoken cookie's value in an X-CSRFToken header, "
            "or authenticate with an API token (Authorization: Bearer …) instead of the session.", 403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)
