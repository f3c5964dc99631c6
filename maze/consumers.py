"""The maze WebSocket `/ws/maze/<game id>/`: game state out to the LLM, hints back to every socket of the game, and
the play the score is computed from (maze/play.py): each step, each hint's effects, and the finish."""

from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings

from portal import ratelimit, telemetry
from portal.consumers import OwnedObjectConsumer
from portal.db import run_db
from portal.http import InvalidInput
from portal.mqtt import contract, gateway
from portal.mqtt.topics import hint_base

from . import engine, protocol, services
from .play import MAX_STEPS_PER_FRAME, PlayError
from .publishing import publish_state

MAX_FRAME_CHARS = 128 * 1024  # a 101×101 grid as JSON is about 21 KB
MIN_HINT_REQUEST_INTERVAL = 0.2  # a button mashed 20 times a second asks once

log = logging.getLogger("maze.consumers")


class MazeConsumer(OwnedObjectConsumer):
    url_kwarg = "game_id"
    max_frame_chars = MAX_FRAME_CHARS

    async def load(self, user, object_id: int) -> None:
        self.last_state_at = 0.0
        self.last_request_at = 0.0
        self.state_sent_at: float | None = None
        self.deferred_state: dict | None = None  # a state that came too soon after the last one, sent later
        self.deferred_sender: asyncio.Task | None = None
        self.game, self.llm_template = await run_db(self._load, user, object_id)
        self.may_write = await run_db(self._may_write, user, self.game)
        self.maze = await run_db(services.maze_of, self.game)
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
        if self.deferred_sender is not None:
            self.deferred_sender.cancel()
        telemetry.sockets.closed("hint", self.game.session_key)
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_object(self, message: dict) -> None:
        handler = {
            "state": self._on_state,
            "move": self._on_move,
            "hint_effects": self._on_hint_effects,
            "finish": self._on_finish,
        }.get(message.get("type"))
        if handler is None:
            await self.send_error(None, "invalid", 'Expected {"type": "state" | "move" | "hint_effects" | "finish"}.')
            return
        if not self.may_write:
            await self.send_error(
                None,
                "read_only",
                "Staff may watch this game but play it only with the 'maze.write_others_games' permission.",
            )
            return
        await handler(message)

    # -- the play the score comes from (maze/play.py) -------------------------------------------------------------
    def _ms_since_start(self) -> int:
        return int((time.time() - self.game.started_at.timestamp()) * 1000)

    async def _change_play(self, change):
        """`change(play)` on the game's one stored record (maze/services.play_change), not on a copy of this
        socket's: another tab of the game, or a staff member watching it, never undoes what this one recorded."""
        return await run_db(services.play_change, game_id=self.game.id, maze=self.maze, change=change)

    async def _on_move(self, message: dict) -> None:
        """`{"type": "move", "steps": [{"dir": "up", "counts": true}, ...]}`: the steps one move tried, in order."""
        steps = message.get("steps")
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS_PER_FRAME:
            await self.send_error(None, "invalid", f"'steps' must list 1 to {MAX_STEPS_PER_FRAME} steps.")
            return
        at_ms = self._ms_since_start()

        def walk(play):
            try:
                for step in steps:
                    if not isinstance(step, dict):
                        raise PlayError("each step must be an object")
                    play.step(step.get("dir"), step.get("counts") is True, at_ms)
            except PlayError as exc:
                return str(exc)  # the steps before it stay recorded, as the browser made them
            return None

        if error := await self._change_play(walk):
            await self.send_error(None, "invalid_play", error)

    async def _on_hint_effects(self, message: dict) -> None:
        """`{"type": "hint_effects", "hint_id": n, "effects": {"break", "teleport", "spawn", "exit"}}`."""
        hint_id, effects, at_ms = message.get("hint_id"), message.get("effects"), self._ms_since_start()
        try:
            await self._change_play(lambda play: play.hint_effects(hint_id, effects, at_ms))
        except PlayError as exc:
            await self.send_error(None, "invalid_play", str(exc))

    async def _on_finish(self, message: dict) -> None:
        """`{"type": "finish", "report": {...}}`: after every step of the game on this same socket, so the score is
        computed from all of them (a POST to /finish could overtake the last ones)."""
        report = message.get("report")
        try:
            score = await run_db(self._finish, report if isinstance(report, dict) else None)
        except InvalidInput as exc:
            await self.send_json(
                {"type": "error", "code": "invalid", "detail": exc.detail, "field": exc.field, "status": exc.status}
            )
            return
        await self.send_json({"type": "finished", "score": score})

    def _finish(self, report: dict | None) -> dict:
        if report is None:
            raise InvalidInput("'report' must be an object.", field="report")
        score = services.game_finish(game=self.game, report_data=report)  # scored from the stored record
        return services.score_json(score)

    async def _on_state(self, message: dict) -> None:
        now = time.monotonic()
        wants_hint = message.get("request_hint") is True
        if wants_hint and now - self.last_request_at < MIN_HINT_REQUEST_INTERVAL:
            await self.send_error(None, "throttled", "Hint requested a moment ago; it is on its way.")
            return
        if not wants_hint and (wait := settings.MAZE_STATE_MIN_INTERVAL - (now - self.last_state_at)) > 0:
            # Too soon after the last one: kept, and sent once the interval is over unless a newer state replaces it,
            # so the LLM always ends up seeing where the player stopped (dropping it left the last move unseen).
            self.deferred_state = message
            if self.deferred_sender is None:
                self.deferred_sender = asyncio.create_task(self._send_deferred(wait))
            return
        if wants_hint:
            self.deferred_state = None  # the request carries the newest state
        if wants_hint and (
            wait := await ratelimit.retry_after(
                scope="hint", user_id=self.game.owner_id, limit=ratelimit.Limit.parse(settings.HINT_RATE_LIMIT)
            )
        ):
            await self.send_error(None, "rate_limited", f"Too many hint requests. Please wait {wait} s.")
            return
        try:
            payload = protocol.state_payload(
                session_key=self.game.session_key,
                state=message.get("state"),
                width=self.game.width,
                height=self.game.height,
                template=self.llm_template,
                hint_base=hint_base(settings.MQTT["TOPIC_HINT"]),
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

    async def _send_deferred(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.deferred_sender = None
        message, self.deferred_state = self.deferred_state, None
        if message is None:
            return
        try:
            await self._on_state(message)
        except Exception:  # noqa: BLE001 - the socket may have closed meanwhile; nothing is waiting on this
            log.warning("a deferred maze state was not sent", exc_info=True)

    async def send_error(self, request_id, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})

    # -- events from the game's hint group -------------------------------------------------------------
    async def maze_hint(self, event):
        check = engine.validate_hint(event["hint"], self.game.width, self.game.height)
        latency_ms = None
        if self.state_sent_at is not None and not check.notice:
            latency_ms = round((event["received_at"] - self.state_sent_at) * 1000, 1)
        hint_id = hint_count = None
        if not check.notice and self.may_write:
            # Counted (once, whichever socket of the game records it first) and timed by the server; its effects
            # are accepted later only as these validated actions. Watchers' sockets record nothing.
            def relay(play):
                if play.status != "playing":
                    return None, None
                key = event.get("hint_key")
                return play.hint_relayed(check.applied, latency_ms, check.error is not None, key=key), play.hint_count

            hint_id, hint_count = await self._change_play(relay) or (None, None)  # None: the game is finished
        await self.send_json(
            {
                "type": "hint",
                "hint_id": hint_id,
                "hint_count": hint_count,  # the server's count: the page shows this one, so the two always agree
                "hint": event["hint"],
                "text": check.text,
                "suggestion": check.suggestion,
                "notice": check.notice,
                "error": check.error,
                "applied": check.applied,
                "ignored": check.ignored,
                "declared": check.declared,
                "aliases": check.aliases,
                "received_at": event["received_at"],
                "server_latency_ms": latency_ms,
            }
        )

    async def template_published(self, event):
        self.llm_template = event.get("llm_template")
        await self.send_json({"type": "template.published", "template": event.get("template")})
