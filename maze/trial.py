"""Template tries: one maze state sent to the LLM with a template, and its hint awaited — without a game.

A try gets a session of its own, `try-<random>`: the LLM service keeps a conversation per sessionId, so a try must
never land in a real game's, and the worker's hook (maze/hints.py) recognises the prefix to relay the hint without
storing it anywhere. The state is built exactly as a game's socket builds it (maze.protocol.state_payload, from the
grid the browser would send at the game's start), and the hint is validated exactly as the game's socket validates
it, so what a try shows applied or ignored is what a game would do with the same answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from portal.mqtt import contract, gateway
from portal.mqtt.topics import hint_base

from . import engine, protocol
from .publishing import publish_state

log = logging.getLogger("maze.trial")

TRY_PREFIX = "try-"
EVAL_PREFIX = "eval-"  # a template evaluation's game (maze/evaluation_runner.py): no MazeGame row either
TRY_TICK = 0  # a try has no browser clock


def new_try_key() -> str:
    # Unguessable, like a game's key: only the waiting request should ever see this session's hint.
    return TRY_PREFIX + secrets.token_hex(8)


def new_eval_key() -> str:
    return EVAL_PREFIX + secrets.token_hex(8)


def is_try_key(session_key: str) -> bool:
    """A session that belongs to no game: a try's, or an evaluation game's."""
    return session_key.startswith((TRY_PREFIX, EVAL_PREFIX))


def start_state(*, maze: engine.Maze, session_key: str, template: dict) -> dict[str, Any]:
    """The `maze/state` message of a game that has just started on `maze` and plays with `template`."""
    return protocol.start_state_payload(
        maze=maze,
        session_key=session_key,
        template=template,
        hint_base=hint_base(settings.MQTT["TOPIC_HINT"]),
        tick=TRY_TICK,
    )


@dataclass(frozen=True)
class Outcome:
    """A hint (`hint`, with `latency_ms`), or an HTTP status with a plain-words `detail`."""

    hint: dict | None = None
    latency_ms: float | None = None
    status: int = 200
    detail: str = ""
    code: str = ""
    retry_after: int | None = None


async def ask(*, state: dict[str, Any], timeout: float) -> Outcome:
    """Publish `state` (its sessionId a try key) and wait at most `timeout` s for its hint."""
    session_key = state["sessionId"]
    availability = await gateway.worker_availability()
    if not availability.ok:
        return Outcome(status=503, code=contract.ERROR_UNAVAILABLE, detail=availability.detail, retry_after=5)
    unreachable = Outcome(
        status=503, code=contract.ERROR_UNAVAILABLE, detail="The hint service is unreachable.", retry_after=5
    )
    async with contextlib.AsyncExitStack() as stack:
        # Listening before publishing: an offline responder answers within milliseconds.
        try:
            inbox = await stack.enter_async_context(gateway.group_events(contract.hint_group(session_key), session_key))
        except Exception as exc:  # noqa: BLE001 - the channel layer (Redis) unreachable: a clear 503, never a 500
            log.warning("template try could not listen for its hint: %s", exc)
            return unreachable
        sent_at = time.monotonic()
        if not await publish_state(state):
            return unreachable
        deadline = sent_at + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(inbox.get(), remaining)
            except TimeoutError:
                break
            hint = event.get("hint")
            if event.get("type") != contract.MAZE_HINT or not isinstance(hint, dict):
                continue
            if hint.get("hint") in engine.NOTICE_TEXTS and len(hint) == 1:
                continue  # "Template updated" is the service's notice, not the answer
            return Outcome(hint=hint, latency_ms=round((time.monotonic() - sent_at) * 1000, 1))
    return Outcome(
        status=504, code=contract.ERROR_TIMEOUT, detail=f"The model did not answer within {timeout:g} s. Try again."
    )


def raw_text(hint: dict) -> str:
    """The answer as received: the worker keeps non-JSON text as {"raw": text}, a JSON answer as its object."""
    if set(hint) == {"raw"} and isinstance(hint["raw"], str):
        return hint["raw"]
    return json.dumps(hint, ensure_ascii=False)


def report(*, hint: dict, maze: engine.Maze) -> dict[str, Any]:
    """What the game would make of `hint`: validated as the game's socket validates it (maze/consumers.py)."""
    check = engine.validate_hint(hint, maze.width, maze.height)
    return {
        "raw": raw_text(hint),
        "hint": hint,
        "text": check.text,
        "suggestion": check.suggestion,
        "error": check.error,
        "applied": check.applied,
        "ignored": check.ignored,
        "aliases": check.aliases,
    }
