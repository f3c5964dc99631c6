"""The WebSocket login lookup (scope["user"]) on the shared database pool.

Channels' AuthMiddleware loads the session's user with database_sync_to_async: on one thread for the whole
process, opening a database connection for every socket that connects and closing it after (with SQLite, a WAL
checkpoint each time). When 500 players connected at once while earlier sockets were already busy, that one
thread managed about 60 connections a second and daphne dropped the rest at its 5-second handshake limit. Here
the lookup runs through portal.db.run_db, on the pool threads that keep their connections.
"""
from types import SimpleNamespace

from channels.auth import AuthMiddleware as ChannelsAuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth import get_user

from portal.db import run_db


def _user_for_session(session):
    # Django's own lookup: the backend must still be configured and the session hash must match the password.
    return get_user(SimpleNamespace(session=session))


class AuthMiddleware(ChannelsAuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await run_db(_user_for_session, scope["session"])


def AuthMiddlewareStack(inner):  # noqa: N802 - named like Channels' own
    return CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))
