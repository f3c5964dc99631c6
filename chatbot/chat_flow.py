"""One chat turn, shared by the JSON API and the WebSocket: store the question, ask the worker, map the outcome."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings

from portal import ratelimit, telemetry
from portal.mqtt import contract, gateway

from . import services
from .models import ChatSession


@dataclass(frozen=True)
class TurnResult:
    """`event` is the worker's final chat.reply or chat.error; `user_message` is None when it was rolled back."""

    event: dict
    user_message: dict | None
    notice: dict | None = None  # "new conversation with the model", when this turn began one

    @property
    def outcome(self) -> str:
        """The metrics label: ok, llm_error, or the contract error code."""
        if self.event["type"] == contract.CHAT_REPLY:
            return "llm_error" if self.event.get("is_error") else "ok"
        return self.event["code"]

    @property
    def http_status(self) -> int:
        if self.event["type"] == contract.CHAT_REPLY:
            return 503 if self.event.get("is_error") else 200
        return contract.HTTP_STATUS_FOR_ERROR.get(self.event["code"], 503)


async def chat_turn(
    *,
    session: ChatSession,
    content: str,
    overrides: dict,
    notify_group: bool,
    on_progress: Callable[[dict], Awaitable[None]] | None = None,
    request_id: str | None = None,
    sent_by: str | None = None,
) -> TurnResult:
    """Ask the model one question; `on_progress(event)` runs for the worker's `chat.queued` (earlier messages of
    the session come first) and `chat.accepted` (the question is stored and on its way to the model)."""
    started = time.monotonic()
    result = await _turn(session, content, overrides, notify_group, on_progress, request_id, sent_by)
    telemetry.record_chat_soon(result.outcome, time.monotonic() - started)
    return result


async def _turn(session, content, overrides, notify_group, on_progress, request_id, sent_by) -> TurnResult:
    wait = await ratelimit.retry_after(
        scope="chat", user_id=session.owner_id, limit=ratelimit.Limit.parse(settings.CHAT_RATE_LIMIT)
    )
    if wait:
        return TurnResult(
            contract.error_event(
                request_id=None,
                code=contract.ERROR_RATE_LIMITED,
                retry_after=wait,
                detail=f"You are sending messages too fast. Please wait {wait} s.",
            ),
            None,
        )
    request_id = request_id or services.new_request_id()
    # request_chat answers 503 at once when no worker can take it. The worker stores the question on the
    # request's turn (portal/mqtt/engine.py): a request nobody accepted leaves nothing behind.
    outcome = await gateway.request_chat(
        request_id=request_id,
        session_key=session.session_key,
        question={
            "session_id": session.id,
            "content": content,
            "overrides": overrides,
            **({"sent_by": sent_by} if sent_by else {}),
        },
        timeout=settings.CHAT_REPLY_TIMEOUT,
        group=contract.chat_group(session.session_key) if notify_group else None,
        on_progress=on_progress,
    )
    return TurnResult(
        outcome.event, outcome.user_message if outcome.accepted else None, outcome.notice if outcome.accepted else None
    )
