"""The maze WebSocket `/ws/maze/<game id>/`: game state out to the LLM, hints back to every socket of the game."""
from __future__ import annotations

import time

from django.conf import settings

from portal import ratelimit, telemetry
from portal.consumers import OwnedObjectConsumer
from portal.db import run_db
from portal.mqtt import contract, gateway
from portal.mqtt.topics import hint_base

from . import engine, protocol, services
from .publishing import publish_state

MAX_FRAME_CHARS = 128 * 1024  # a 101×101 grid as JSON is about 21 KB
MIN_HINT_REQUEST_INTERVAL = 0.2  # a button mashed 20 times a second asks once


class MazeConsumer(OwnedObjectConsumer):
    url_kwarg = "game_id"
    max_frame_chars = MAX_FRAME_CHARS

    async def load(self, user, object_id: int) -> None:
        self.last_state_at = 0.0
        self.last_request_at = 0.0
        self.state_sent_at: float | None = None
        self.game, self.llm_template = await run_db(self._load, user, object_id)
        self.may_write = await run_db(self._may_write, user, self.game)
        self.group = contract.hint_group(self.game.session_key)

    @staticmethod
    def _load(user, game_id):
        game = services.game_for_user(user=user, game_id=game_id)
        return game, services.template_for_llm(game)

    @staticmethod
    def _may_write(user, game) -> bool:
        # Staff may watch another user's game; playing it (states, hint requests) needs the permission.
        return game.owner_id == user.pk or user.has_perm("maze.write_others_games")

    async def opened(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        telemetry.sockets.opened("hint", self.game.session_key)

    async def closed(self) -> None:
        telemetry.sockets.closed("hint", self.game.session_key)
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_object(self, message: dict) -> None:
        if message.get("type") != "state":
            await self.send_error(None, "invalid", 'Expected {"type": "state", "state": {...}}.')
            return
        if not self.may_write:
            await self.send_error(None, "read_only", "Staff may watch this game but play it only with the "
                                                      "'maze.write_others_games' permission.")
            return
        await self._on_state(message)

    async def _on_state(self, message: dict) -> None:
        now = time.monotonic()
        wants_hint = message.get("request_hint") is True
        if wants_hint and now - self.last_request_at < MIN_HINT_REQUEST_INTERVAL:
            await self.send_error(None, "throttled", "Hint requested a moment ago; it is on its way.")
            return
        if not wants_hint and now - self.last_state_at < settings.MAZE_STATE_MIN_INTERVAL:
            return  # throttled on purpose: the next move sends a fresher state anyway
        if wants_hint and (wait := await ratelimit.retry_after(
                scope="hint", user_id=self.game.owner_id, limit=ratelimit.Limit.parse(settings.HINT_RATE_LIMIT))):
            await self.send_error(None, "rate_limited", f"Too many hint requests. Please wait {wait} s.")
            return
        try:
            payload = protocol.state_payload(
                session_key=self.game.session_key, state=message.get("state"), width=self.game.width,
                height=self.game.height, template=self.llm_template, hint_base=hint_base(settings.MQTT["TOPIC_HINT"]),
            )
        except protocol.StateError as exc:
            await self.send_error(None, "invalid", str(exc))
            return
        availability = await gateway.worker_availability()
        if not availability.ok:
            await self.send_error(None, "unavailable", availability.detail)
            return
        if not await publish_state(payload):
            await self.send_error(None, "unavailable", "The hint service is unreachable right now.")
            return
        self.last_state_at = now
        if wants_hint:
            self.last_request_at = now
        self.state_sent_at = time.time()

    async def send_error(self, request_id, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})

    # -- events from the game's hint group -------------------------------------------------------------
    async def maze_hint(self, event):
        check = engine.validate_hint(event["hint"], self.game.width, self.game.height)
        latency_ms = None
        if self.state_sent_at is not None and not check.notice:
            latency_ms = round((event["received_at"] - self.state_sent_at) * 1000, 1)
        await self.send_json({
            "type": "hint",
            "hint": event["hint"],
            "text": check.text,
            "suggestion": check.suggestion,
            "notice": check.notice,
            "error": check.error,
            "applied": check.applied,
            "ignored": check.ignored,
            "received_at": event["received_at"],
            "server_latency_ms": latency_ms,
        })

    async def template_published(self, event):
        self.llm_template = event.get("llm_template")
        await self.send_json({"type": "template.published", "template": event.get("template")})
