"""The chat WebSocket `/ws/chat/<session id>/`: send questions, receive replies (see static/js/chat.js)."""

from __future__ import annotations

import asyncio
from collections import deque

from portal import telemetry
from portal.consumers import CLOSE_NOT_FOUND, OwnedObjectConsumer
from portal.db import run_db
from portal.http import InvalidInput
from portal.mqtt import contract, gateway

from . import selectors, services, validation
from .chat_flow import chat_turn

MAX_IN_FLIGHT = 3  # per socket: a user waits for answers, a script flooding one socket waits too


_FRAME_FIELDS = ("type", "request_id", "position", "user_message", "notice", "offset", "delta")


def _frame(event: dict) -> dict:
    """What a socket shows of the worker's chat.queued / chat.accepted / chat.delta (not which worker holds it)."""
    return {k: event[k] for k in _FRAME_FIELDS if k in event}


def _reply_frame(event: dict) -> dict:
    frame = {k: event.get(k) for k in ("type", "request_id", "assistant_message", "is_error")}
    if event.get("stopped"):
        frame["stopped"] = True
    return frame


class ChatConsumer(OwnedObjectConsumer):
    url_kwarg = "session_id"

    async def load(self, user, object_id: int) -> None:
        self.group = None
        self.in_flight: set[asyncio.Task] = set()
        # Requests this socket sent: their events reach it directly, so the session group's copy is skipped.
        self.own_requests: deque[str] = deque(maxlen=256)
        self.session = await run_db(selectors.session_for_user, user=user, session_id=object_id)
        # Staff may open another user's chat to read it; writing into it needs the permission, and is signed.
        self.sent_by = None if self.session.owner_id == user.pk else user.get_username()
        self.may_write = self.sent_by is None or await run_db(user.has_perm, "chatbot.write_others_chats")

    async def opened(self) -> None:
        await self._join(contract.chat_group(self.session.session_key))
        telemetry.sockets.opened("chat")

    async def closed(self) -> None:
        telemetry.sockets.closed("chat")
        for task in list(self.in_flight):
            task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _join(self, group: str) -> None:
        if self.group == group:
            return
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)

    async def receive_object(self, content: dict) -> None:
        if content.get("type") == contract.CHAT_STOP:
            await self._stop(content.get("request_id"))
            return
        if content.get("type") != "chat.message":
            await self.send_error(None, "invalid", 'Expected {"type": "chat.message", "content": "..."}.')
            return
        try:
            text = validation.chat_content(content)
        except InvalidInput as exc:
            await self.send_error(None, "invalid", exc.detail)
            return
        if not self.may_write:
            await self.send_error(
                None,
                "read_only",
                "Staff may read this chat but write into it only with the 'chatbot.write_others_chats' permission.",
            )
            return
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            await self.send_error(None, "busy", "Please wait for the answers to your previous messages.")
            return
        task = asyncio.create_task(self._turn(text))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _stop(self, request_id) -> None:
        """Stop an answer of this session (any tab's): the worker keeps what was streamed as the answer and
        answers chat.reply (stopped) as usual. Nothing is said for a request that is no longer on its way."""
        if not isinstance(request_id, str) or not request_id or len(request_id) > 64:
            await self.send_error(None, "invalid", 'Expected {"type": "chat.stop", "request_id": "..."}.')
            return
        if not self.may_write:
            await self.send_error(None, "read_only", "Staff may read this chat but not stop its answers.")
            return
        await gateway.stop_chat(request_id=request_id, session_key=self.session.session_key)

    async def _turn(self, text: str) -> None:
        async def progress(event: dict) -> None:
            await self.send_json(_frame(event))

        request_id = services.new_request_id()
        self.own_requests.append(request_id)
        result = await chat_turn(
            session=self.session,
            content=text,
            overrides={},
            notify_group=True,
            on_progress=progress,
            request_id=request_id,
            sent_by=self.sent_by,
        )
        event = result.event
        if event.get("code") == contract.ERROR_GONE:
            # The session was deleted under this socket (its deletion event may still be on its way).
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if event["type"] == contract.CHAT_REPLY:
            await self.send_json(_reply_frame(event))
        else:
            await self.send_error(event.get("request_id"), event["code"], event["detail"])

    async def send_error(self, request_id, code: str, detail: str) -> None:
        await self.send_json({"type": contract.CHAT_ERROR, "request_id": request_id, "code": code, "detail": detail})

    # -- events from the session group (requests sent by another tab or by the JSON API) ----------------
    async def chat_session_changed(self, event):
        """Settings changed, history reset or the session deleted: reloaded (the group follows its session key)."""
        if event.get("deleted"):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        try:
            self.session = await run_db(selectors.session_for_user, user=self.scope["user"], session_id=self.session.id)
        except Exception:  # noqa: BLE001 - gone or no longer reachable: the same answer as at connect
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self._join(contract.chat_group(self.session.session_key))

    async def chat_queued(self, event):
        await self._forward(_frame(event))

    async def chat_accepted(self, event):
        await self._forward(_frame(event))

    async def chat_delta(self, event):
        await self._forward(_frame(event))

    async def chat_reply(self, event):
        await self._forward(_reply_frame(event))

    async def chat_error(self, event):
        await self._forward({k: event.get(k) for k in ("type", "request_id", "code", "detail")})

    async def _forward(self, event):
        if event.get("request_id") not in self.own_requests:
            await self.send_json(event)
