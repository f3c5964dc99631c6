"""Bearer-token authentication for the JSON API.

A request that carries `Authorization: Bearer pp_…` to /api/ is the token owner's, whatever cookies it
also sends, and is exempt from CSRF: a script holds no cookie a forged cross-site request could ride on.
An unknown or revoked token answers 401 at once instead of falling back to the session.
Other bearer values (such as HEALTH_TOKEN) pass through untouched for the views that expect them.
"""
from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from portal.db import run_db
from portal.http import json_error

from .tokens import looks_like_token, user_for_token

API_PREFIX = "/api/"


def _bearer_token(request) -> str | None:
    if not request.path.startswith(API_PREFIX):
        return None
    # META, not request.headers: that builds a dict of every header on first use, and nothing else on the chat
    # path reads it (~2 % of daphne's CPU per chat request).
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
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
    request._dont_enforce_csrf_checks = True


class BearerTokenMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        raw = _bearer_token(request)
        if raw is not None:
            user = user_for_token(raw)
            if user is None:
                return _refused()
            _authenticate(request, user)
        return self.get_response(request)

    async def __acall__(self, request):
        raw = _bearer_token(request)
        if raw is not None:
            user = await run_db(user_for_token, raw)
            if user is None:
                return _refused()
            _authenticate(request, user)
        return await self.get_response(request)
