"""What every WebSocket of the platform does the same way: owner-only access, bounded JSON frames and a frame
budget against floods."""

from __future__ import annotations

import hashlib
import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY

from . import socket_cap, throttle

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_FRAMES = 4429
CLOSE_TOO_MANY_SOCKETS = 4430  # the user has WS_MAX_SOCKETS_PER_USER open already

# Events to a user's group (accounts/socket_ends.py): a login of hers ended, or her password changed.
AUTH_ENDED = "auth.ended"
AUTH_CHANGED = "auth.changed"


def user_group(user_id: int) -> str:
    """Every open socket of one user listens here."""
    return f"user.{int(user_id)}"


def session_fingerprint(session_key: str) -> str:
    """Names a session in channel-layer messages without carrying the key itself (a login secret)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any WebSocket path no route matches (`/ws/chat/abc/`): a clear 4404 instead of the router's error."""

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


class OwnedObjectConsumer(AsyncJsonWebsocketConsumer):
    """A socket bound to one object its user owns (`url_kwarg` in the route).

    Subclasses implement `load(user, object_id)` (raise anything for "not yours / not found"), `opened()`,
    `closed()` and `receive_object(message)`; `send_error(request_id, code, detail)` answers bad frames.

    Frames past the budget (`WS_FRAME_RATE` per second, bursts of `WS_FRAME_BURST`) are dropped unread, with a
    `rate_limited` error at most once a second; a client that keeps sending faster than allowed is closed with
    4429 (portal/throttle.py). Other sockets never notice: the budget is this socket's alone.
    """

    url_kwarg = "id"
    max_frame_chars = 64 * 1024

    async def connect(self):
        self.ready = False
        self.kicked = False
        self.frame_budget = throttle.FrameBudget(settings.WS_FRAME_RATE, settings.WS_FRAME_BURST)
        user = self.scope.get("user")
        # Accept first, then close: a close code set before accepting never reaches the browser.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.counted = await socket_cap.take(user.pk)
        if not self.counted:
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        try:
            await self.load(user, int(self.scope["url_route"]["kwargs"][self.url_kwarg]))
        except Exception:  # not found, not yours or a malformed id: one answer, so ids cannot be probed
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.ready = True
        session = self.scope.get("session")
        self.session_print = session_fingerprint(session.session_key) if session and session.session_key else None
        self.auth_hash = session.get(HASH_SESSION_KEY) if session else None
        self.user_group = user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.opened()

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            await socket_cap.give_back(self.scope["user"].pk)
        if self.ready:
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
            await self.closed()

    # -- the login this socket was opened with ends (accounts/socket_ends.py) --------------------------------------
    async def auth_ended(self, event):
        if event.get("session") == self.session_print:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def auth_changed(self, event):
        if event.get("auth_hash") != self.auth_hash:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive(self, text_data=None, bytes_data=None):
        if not self.ready:
            return
        verdict = self.frame_budget.take()
        if verdict != throttle.ACCEPT:
            await self._refuse_frame(verdict)
            return
        if text_data is None or len(text_data) > self.max_frame_chars:
            await self.send_error(
                None, "invalid", f"Send JSON text frames of at most {self.max_frame_chars} characters."
            )
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            await self.send_error(None, "invalid", "The frame is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self.send_error(None, "invalid", "A frame must be a JSON object.")
            return
        await self.receive_object(message)

    async def _refuse_frame(self, verdict: str) -> None:
        if verdict == throttle.REFUSE_AND_NOTIFY:
            await self.send_error(
                None, "rate_limited", f"Too many frames: at most {settings.WS_FRAME_RATE:g} per second. Slow down."
            )
        elif verdict == throttle.DISCONNECT and not self.kicked:
            self.kicked = True  # close once; frames already on the wire only wait for the close handshake
            await self.close(code=CLOSE_TOO_MANY_FRAMES)

    async def load(self, user, object_id: int) -> None:
        raise NotImplementedError

    async def opened(self) -> None:
        pass

    async def closed(self) -> None:
        pass

    async def receive_object(self, message: dict) -> None:
        raise NotImplementedError

    async def send_error(self, request_id, code: str, detail: str) -> None:
        raise NotImplementedError
