"""Pure decoding and validation of what the portal publishes (PROTOCOL.md): chat requests, maze states,
template updates and forget requests. Every problem is a PayloadError whose text says what is wrong."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .topics import valid_session_id

MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadError(ValueError):
    """The payload cannot be used; the message names the problem."""


class NotAnObject(PayloadError):
    """Valid JSON that is not an object: the deployed service drops these silently."""


def decode_object(payload: bytes) -> dict:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise PayloadError("payload is not JSON") from None
    if not isinstance(value, dict):
        raise NotAnObject(f"payload is JSON {type(value).__name__}, not an object")
    return value


def _optional_number(payload: dict, key: str, low: float, high: float) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    # (math.isfinite of an integer too large for a float raises; integers are finite anyway.)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise PayloadError(f"{key} must be a number")
    if not low <= value <= high:
        raise PayloadError(f"{key} must be between {low:g} and {high:g}")
    return float(value)


def _optional_int(payload: dict, key: str, low: int, high: int) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{key} must be an integer")
    if not low <= value <= high:
        raise PayloadError(f"{key} must be between {low} and {high}")
    return value


def _optional_text(payload: dict, key: str) -> str | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{key} must be a string")
    return value


def _non_empty_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def session_of(payload: dict) -> str | None:
    return valid_session_id(payload.get("sessionId"))


@dataclass(frozen=True)
class ChatRequest:
    session_id: str
    message: str
    system_prompt: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    request_id: str | None = None
    stream: bool = False  # the portal would like the answer streamed (PROTOCOL.md "Streamed answers")

    @classmethod
    def parse(cls, payload: dict) -> ChatRequest:
        session_id = session_of(payload)
        if session_id is None:
            raise PayloadError("sessionId must be a non-empty string without '/', '+' or '#'")
        message = payload.get("message")
        if not isinstance(message, str):
            raise PayloadError("message must be a string")
        return cls(
            session_id=session_id,
            message=message,
            system_prompt=_optional_text(payload, "systemPrompt") or None,
            temperature=_optional_number(payload, "temperature", 0.0, 2.0),
            top_p=_optional_number(payload, "topP", 0.0, 1.0),
            max_tokens=_optional_int(payload, "maxTokens", 1, 1_000_000),
            # Both only enable streaming; a request whose values are unusable is answered as one without them.
            request_id=_non_empty_text(payload.get("requestId")),
            stream=payload.get("stream") is True,
        )


def _prompt_text(value: object) -> str | None:
    """A prompt given as text or as an object with `content` (the game sends its template object)."""
    if isinstance(value, dict):
        value = value.get("content")
    if isinstance(value, str) and value.strip():
        return value
    return None


def template_prompt(payload: dict) -> str | None:
    """The template's prompt, from the first usable of template, system_prompt, systemPrompt, prompt_template."""
    for key in ("template", "system_prompt", "systemPrompt", "prompt_template"):
        prompt = _prompt_text(payload.get(key))
        if prompt is not None:
            return prompt
    return None


def template_reset(payload: dict) -> bool:
    value = payload.get("reset", True)
    if not isinstance(value, bool):
        raise PayloadError("reset must be true or false")
    return value


def forget_target(payload: dict) -> str | None:
    """`{"sessionId": ...}` -> that id; `{"target": "all"}` -> None, meaning every session."""
    if payload.get("target") == "all":
        return None
    session_id = session_of(payload)
    if session_id is None:
        raise PayloadError('expected {"sessionId": "<id>"} or {"target": "all"}')
    return session_id


Point = tuple[int, int]


@dataclass(frozen=True)
class MazeState:
    """A game state with `grid[y][x]` True where the cell is floor (protocol value 1)."""

    player: Point
    exit: Point
    grid: tuple[tuple[bool, ...], ...]
    germs: frozenset[Point] = field(default_factory=frozenset)
    template: str | None = None

    def is_floor(self, point: Point) -> bool:
        x, y = point
        return 0 <= y < len(self.grid) and 0 <= x < len(self.grid[y]) and self.grid[y][x]


def _point(value: object, what: str) -> Point:
    if isinstance(value, dict):
        value = [value.get("x"), value.get("y")]
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return value[0], value[1]
    raise PayloadError(f'{what} must be [x, y] or {{"x": x, "y": y}} with integers')


def _grid(value: object) -> tuple[tuple[bool, ...], ...]:
    if not isinstance(value, list) or not value:
        raise PayloadError("visible_map must be a non-empty list of rows")
    rows = []
    for y, row in enumerate(value):
        if not isinstance(row, list):
            raise PayloadError(f"visible_map[{y}] must be a list")
        # PROTOCOL.md: 1 = floor, 0 = wall. Anything else (fog, unknown markers) is not walkable.
        rows.append(tuple(cell == 1 and not isinstance(cell, bool) for cell in row))
    return tuple(rows)


def parse_maze_state(payload: dict) -> MazeState:
    for key in ("player_pos", "exit_pos", "visible_map"):
        if key not in payload:
            raise PayloadError(f"{key} is missing")
    grid = _grid(payload["visible_map"])
    player = _point(payload["player_pos"], "player_pos")
    exit_ = _point(payload["exit_pos"], "exit_pos")
    x, y = player
    if not (0 <= y < len(grid) and 0 <= x < len(grid[y])):
        raise PayloadError(f"player_pos {list(player)} is outside visible_map")
    germs = payload.get("germs") or []
    if not isinstance(germs, list):
        raise PayloadError("germs must be a list of {x, y}")
    return MazeState(
        player=player,
        exit=exit_,
        grid=grid,
        germs=frozenset(_point(g, f"germs[{i}]") for i, g in enumerate(germs)),
        template=_prompt_text(payload.get("prompt_template")),
    )
