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
