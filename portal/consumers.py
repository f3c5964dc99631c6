"""What every WebSocket of the platform does the same way: owner-only access and bounded JSON frames."""
from __future__ import annotations

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class OwnedObjectConsumer(AsyncJsonWebsocketConsumer):
    """A socket bound to one object its user owns (`url_kwarg` in the route).

    Subclasses implement `load(user, object_id)` (raise anything for "not yours / not found"), `opened()`,
    `closed()` and `receive_object(message)`; `send_error(request_id, code, detail)` answers bad frames.
    """

    url_kwarg = "id"
    max_frame_chars = 64 * 1024

    async def connect(self):
        self.ready = False
        user = self.scope.get("user")
        # Accept first, then close: a close code set before accepting never reaches the browser.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            await self.load(user, int(self.scope["url_route"]["kwargs"][self.url_kwarg]))
        except Exception:  # not found, not yours or a malformed id: one answer, so ids cannot be probed
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.ready = True
        await self.opened()

    async def disconnect(self, code):
        if self.ready:
            await self.closed()

    async def receive(self, text_data=None, bytes_data=None):
        if not self.ready:
            return
        if text_data is None or len(text_data) > self.max_frame_chars:
            await self.send_error(None, "invalid", f"Send JSON text frames of at most {self.max_frame_chars} characters.")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error(None, "invalid", "The frame is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self.send_error(None, "invalid", "A frame must be a JSON object.")
            return
        await self.receive_object(message)

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
