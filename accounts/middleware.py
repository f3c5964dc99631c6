"""Bearer-token authentication for the JSON API.

A request that carries `Authorization: Bearer pp_…` to /api/ is the token owner's, whatever cookies it
also sends, and is exempt from CSRF (portal.api.json_api checks CSRF for the others): a script holds no cookie a
forged cross-site request could ride on.
An unknown or revoked token answers 401 at once instead of falling back to the session.
Other bearer values (such as HEALTH_TOKEN) pass through untouched for the views that expect them.
"""

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

from portal.db import run_db
from portal.http import json_error

from .tokens import looks_like_token, user_for_token

API_PREFIX = "/api/"


def _bearer_token(request) -> str | None:
    if not request.path.startswith(API_PREFIX):
        return None
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not looks_like_token(value):
        return None
    return value


def _refused():
    response = json_error("The API token is invalid or has been revoked.", 401)
    response["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
    return response


def _authenticate(request, user) -> None:
    request.user = user
    request.api_token_user = user

    async def auser():
        return user

    request.auser = auser


@sync_and_async_middleware
def BearerTokenMiddleware(get_response):  # noqa: N802 - a middleware factory, named like the class it replaced
    """Django's documented form of a middleware that runs in both modes (so async views stay async)."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            raw = _bearer_token(request)
            if raw is not None:
                user = await run_db(user_for_token, raw)
                if user is None:
                    return _refused()
                _authenticate(request, user)
            return await get_response(request)

    else:

        def middleware(request):
            raw = _bearer_token(request)
            if raw is not None:
                user = user_for_token(raw)
                if user is None:
                    return _refused()
                _authenticate(request, user)
            return get_response(request)

    return middleware
