"""The maze preset asks the model for the hint format the game validates (docs/protocol.md "Maze hint")."""

import re

from chatbot.presets import PRESETS_BY_KEY
from maze import engine


def test_the_maze_preset_asks_for_the_json_hint_with_real_action_names():
    prompt = PRESETS_BY_KEY["maze_strategist"].system_prompt
    assert "JSON" in prompt
    for key in ('"hint"', '"suggestion"', '"path"'):
        assert key in prompt
    # Every action it names is one the game applies: no made-up key that would only come back as ignored.
    named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", prompt)) - {"visible_map"}
    assert named and named <= engine.ACTION_NAMES, named - engine.ACTION_NAMES
