"""The other names a hint's actions may go by, and which keys of a hint are not actions (pure: no Django).

Prompts written for the earlier platform name actions differently (`teleport`, `breakWall`, `bfs`...): this is the
one table that maps them onto the documented snake_case actions (docs/protocol.md "Maze hint"), so such prompts keep
working instead of silently doing nothing. Every other key of a hint is reported back as ignored with the reason,
so a prompt author sees at once what the game did not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Keys that carry the hint's text or an error, or that services echo back: never actions, never reported.
NOT_ACTIONS = frozenset({"hint", "suggestion", "error", "Error", "err", "raw", "sessionId"})

# `true` for a timed effect (`"freeze": true`) means this long: the earlier platform's effects had no duration.
DEFAULT_EFFECT_MS = 5000


def _same(value: Any) -> Any:
    return value


def _effect_ms(value: Any) -> Any:
    return DEFAULT_EFFECT_MS if value is True else value


def _one_or_many(value: Any) -> Any:
    """A single point where a list of points is expected (`"oxygen": [3, 4]`) is a list of one."""
    is_xy = isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
    return [value] if is_xy or (isinstance(value, dict) and {"x", "y"} <= value.keys()) else value


@dataclass(frozen=True)
class Alias:
    """`key` in a hint means action `target(value)` with value `convert(value)`."""

    target: Callable[[Any], str]
    convert: Callable[[Any], Any] = _same
    doc: str = ""  # the target as the docs table shows it


def _to(name: str, convert: Callable[[Any], Any] = _same) -> Alias:
    return Alias(lambda value: name, convert, name)


def _list_or_other(list_target: str, other_target: str, convert: Callable[[Any], Any] = _same) -> Alias:
    """One old key that meant a list action or a flag/number action, told apart by the value."""
    return Alias(
        lambda value: list_target if isinstance(value, list) else other_target,
        lambda value: value if isinstance(value, list) else convert(value),
        f"{list_target} (a list) or {other_target}",
    )


# The earlier platform's names (camelCase spellings of the documented names are added below).
LEGACY: dict[str, Alias] = {
    "speed_boost": _to("speed_boost_ms", _effect_ms),
    "speedBoost": _to("speed_boost_ms", _effect_ms),
    "boost": _to("speed_boost_ms", _effect_ms),
    "slow_germs": _to("slow_germs_ms", _effect_ms),
    "slowGerms": _to("slow_germs_ms", _effect_ms),
    "freeze": _to("freeze_germs_ms", _effect_ms),
    "freeze_germs": _to("freeze_germs_ms", _effect_ms),
    "freezeGerms": _to("freeze_germs_ms", _effect_ms),
    "teleport": _to("teleport_player"),
    "tp": _to("teleport_player"),
    "exit": _to("move_exit"),
    "oxygen": _to("spawn_oxygen", _one_or_many),
    "breakWall": _to("break_wall"),
    "breakWalls": _to("break_walls", _one_or_many),
    "bfs": _list_or_other("path", "show_path"),
    "bfs_steps": _to("path"),
    "bfsSteps": _to("path"),
    "highlight": _list_or_other("highlight_zone", "highlight_ms", _effect_ms),
    "reveal": _to("reveal_map"),
    "autopilot": _to("toggle_autopilot"),
}


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def alias_table(action_names: Iterable[str]) -> dict[str, Alias]:
    """Every alias: the legacy names, then each documented action's camelCase spelling (`teleportPlayer`)."""
    table = dict(LEGACY)
    for name in sorted(action_names):
        if camel_case(name) != name:
            table.setdefault(camel_case(name), _to(name))
    return table


@dataclass
class Resolved:
    actions: dict[str, tuple[str, Any]]  # action -> (the key the hint used, the value to validate)
    aliases: dict[str, str]  # key as written -> action, for the aliases used
    ignored: list[dict]  # [{"action": key as written, "reason": ...}]: unknown keys and clashing aliases


def resolve(hint: dict, action_names: frozenset[str], aliases: dict[str, Alias]) -> Resolved:
    """The actions of `hint` under their documented names. A documented name wins over an alias of the same action,
    the first alias over later ones; every key that is neither an action, an alias nor text is reported."""
    result = Resolved(actions={}, aliases={}, ignored=[])
    for key in hint:
        if key in action_names:
            result.actions[key] = (key, hint[key])
    for key, value in hint.items():
        if key in action_names or key in NOT_ACTIONS:
            continue
        alias = aliases.get(key) if isinstance(key, str) else None
        if alias is None:
            result.ignored.append({"action": str(key), "reason": f"unknown action '{key}'"})
            continue
        target = alias.target(value)
        if target in result.actions:
            first = result.actions[target][0]
            result.ignored.append({"action": key, "reason": f"means {target}, which '{first}' already gives"})
            continue
        result.actions[target] = (key, alias.convert(value))
        result.aliases[key] = target
    return result
