"""Server-Sent Events for `POST /api/chatbot/messages` with `Accept: text/event-stream`: the turn as it happens.

Events: `queued` and `accepted` (as on the socket), `delta` (streamed text: `{"request_id", "offset", "delta"}`),
then exactly one of `reply` (the same body as the JSON answer) or `error` (the same body and `status` as the
JSON error). A client that goes away cancels the turn's wait, as a JSON client's does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from django.http import StreamingHttpResponse

from portal.mqtt import contract

_PROGRESS = {contract.CHAT_QUEUED: "queued", contract.CHAT_ACCEPTED: "accepted", contract.CHAT_DELTA: "delta"}
_FIELDS = ("request_id", "position", "user_message", "notice", "offset", "delta")


def wants_event_stream(request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def sse_frame(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(run_turn, final) -> AsyncIterator[str]:
    progress: asyncio.Queue[dict] = asyncio.Queue()

    async def on_progress(event: dict) -> None:
        progress.put_nowait(event)

    turn = asyncio.ensure_future(run_turn(on_progress))
    try:
        while True:
            getter = asyncio.ensure_future(progress.get())
            await asyncio.wait({getter, turn}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            event = getter.result()
            yield sse_frame(_PROGRESS[event["type"]], {k: event[k] for k in _FIELDS if k in event})
        while not progress.empty():  # what came with the final event
            event = progress.get_nowait()
            yield sse_frame(_PROGRESS[event["type"]], {k: event[k] for k in _FIELDS if k in event})
        status, body = final(turn.result())
        yield sse_frame("reply" if status == 200 else "error", {**body, "status": status})
    finally:
        if not turn.done():
            turn.cancel()  # the client went away


def event_stream_response(
    run_turn: Callable[[Callable[[dict], Awaitable[None]]], Awaitable], final: Callable
) -> StreamingHttpResponse:
    """`run_turn(on_progress)` runs the chat turn; `final(result)` gives the (status, body) a JSON client gets."""
    response = StreamingHttpResponse(_events(run_turn, final), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
