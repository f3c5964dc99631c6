"""One decorator for every JSON API view: allowed methods, login, and errors as JSON (never an HTML page)."""
from __future__ import annotations

import functools
import inspect

from django.http import Http404

from .http import InvalidInput, invalid_input_response, json_error


def _check(request, user, methods):
    if request.method not in methods:
        response = json_error(f"Method {request.method} is not allowed here.", 405)
        response["Allow"] = ", ".join(methods)
        return response
    if not user.is_authenticated:
        return json_error("Authentication required.", 401)
    return None


def json_api(*methods: str):
    def decorate(view):
        if inspect.iscoroutinefunction(view):
            @functools.wraps(view)
            async def async_wrapper(request, *args, **kwargs):
                user = await request.auser()
                if (refusal := _check(request, user, methods)) is not None:
                    return refusal
                try:
                    return await view(request, *args, **kwargs)
                except InvalidInput as exc:
                    return invalid_input_response(exc)
                except Http404 as exc:
                    return json_error(str(exc) or "Not found.", 404)

            return async_wrapper

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

        return wrapper

    return decorate


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: API clients get a JSON 403 saying what to send; pages keep Django's HTML page."""
    if request.path.startswith("/api/"):
        return json_error(
            "CSRF check failed: send the csrftoken cookie's value in an X-CSRFToken header, "
            "or authenticate with an API token (Authorization: Bearer …) instead of the session.", 403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)
