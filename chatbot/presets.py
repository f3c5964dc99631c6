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
        system_prompt=(
            "You are a maze strategist. Given a maze state, plan the safest short route to the exit, avoid germs, "
            "collect oxygen when it is close, and give hints in one or two short sentences."
        ),
        temperature=0.3,
        max_tokens=256,
    ),
)

PRESETS_BY_KEY = {p.key: p for p in PRESETS}
DEFAULT_PRESET = PRESETS[0]
