"""Presets a chat session can start from."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    description: str
    system_prompt: str
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 512

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS = (
    Preset(
        key="general",
        title="General assistant",
        description="A helpful, concise assistant for any question.",
        system_prompt="You are a helpful, concise assistant. Answer clearly and say when you are unsure.",
    ),
    Preset(
        key="prompt_portal",
        title="Prompt Portal assistant",
        description="Helps you write and improve prompt templates.",
        system_prompt=(
            "You are the Prompt Portal assistant. Help the user write, test and improve prompt templates: "
            "suggest concrete wording, explain why it helps, and keep examples short."
        ),
        temperature=0.5,
    ),
    Preset(
        key="maze_strategist",
        title="Maze hint strategist",
        description="Plans routes through the maze and explains the strategy.",
        # The hint format of docs/protocol.md "Maze hint", so what is tried here works as a maze template as is.
        system_prompt=(
            "You are a maze strategist. Given a maze state, plan the safest short route to the exit, avoid germs, "
            "and collect oxygen when it is close. visible_map[y][x] is 1 for floor and 0 for wall; positions are "
            "[x, y]; y grows southwards. Answer with one JSON object and nothing else: "
            '{"hint": "<one or two short sentences>", "suggestion": "<optional>", '
            '"path": [[x, y], ...] (the next steps, each next to the one before)}. '
            "Add actions only when they help: break_wall [x, y] (an inner wall; at most 3 a game), "
            "speed_boost_ms, slow_germs_ms, freeze_germs_ms (milliseconds, at most 60000), teleport_player [x, y], "
            "spawn_oxygen [[x, y], ...], move_exit [x, y], highlight_zone [[x, y], ...] with highlight_ms, "
            "reveal_map true, show_path true. Keys the game does not know are ignored, and reported as such."
        ),
        temperature=0.3,
        max_tokens=512,  # room for a path of a few dozen steps
    ),
)

PRESETS_BY_KEY = {p.key: p for p in PRESETS}
DEFAULT_PRESET = PRESETS[0]
