"""The template form's reference panel (issue 20 item 3): what the model receives and may answer, built from the
maze's own code so that it stays true, and a worked example template."""

import json
import re
from pathlib import Path

import pytest

from maze import engine
from prompts import reference
from prompts.forms import PromptTemplateForm

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_state_example() -> dict:
    """The JSON example under docs/protocol.md's "Maze state" heading."""
    section = DOCS.read_text().split("## Maze state", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))


def test_the_example_state_is_built_from_a_real_maze_with_the_documented_fields():
    maze = reference.example_maze()
    state = reference.example_state(maze)
    assert state.keys() == documented_state_example().keys()
    assert state["visible_map"] == engine.to_protocol_map(maze.walls)  # 1 = floor, as documented
    assert len(state["visible_map"]) == reference.EXAMPLE_HEIGHT
    assert {len(row) for row in state["visible_map"]} == {reference.EXAMPLE_WIDTH}
    assert state["player_pos"] == list(maze.start) and state["exit_pos"] == list(maze.exit)
    assert state["germs"] == [{"x": x, "y": y} for x, y in maze.germs]
    assert state["oxygenPellets"] == [{"x": x, "y": y} for x, y in maze.pellets]
    assert state["replyTopic"] == f"maze/hint/{state['sessionId']}"
    assert engine.is_floor(maze.walls, maze.start) and engine.shortest_path(maze.walls, maze.start, maze.exit)


def test_every_state_field_is_described():
    fields = reference.form_reference()["state_fields"]
    assert [f["name"] for f in fields] == list(reference.example_state(reference.example_maze()))
    assert all(f["meaning"] for f in fields), [f["name"] for f in fields if not f["meaning"]]


def test_the_action_list_has_every_action_the_game_validates():
    actions = reference.hint_actions()
    assert len(actions) == 15
    assert {a.name for a in actions} == engine.ACTION_NAMES
    # Each is described here, none only by the fallback pointer to the protocol document.
    assert all(a.argument and a.meaning for a in actions)


def test_the_example_hint_uses_every_action_and_the_game_accepts_all_of_them():
    maze = reference.example_maze()
    hint = reference.example_hint(maze)
    check = engine.validate_hint(hint, maze.width, maze.height, maze.walls)
    assert check.ignored == []
    assert check.applied.keys() == engine.ACTION_NAMES
    assert check.text == hint["hint"]


def test_the_pretty_json_is_the_same_json():
    ref = reference.form_reference()
    maze = reference.example_maze()
    assert json.loads(ref["state_json"]) == reference.example_state(maze)
    assert json.loads(ref["hint_json"]) == reference.example_hint(maze)
    assert "    [0,0,0" in ref["state_json"]  # the grid one row a line


@pytest.mark.django_db
def test_the_example_template_is_a_valid_template_whose_example_answer_the_game_accepts():
    text = reference.EXAMPLE_TEMPLATE
    form = PromptTemplateForm({"title": "Example", "description": "", "content": text, "is_active": True})
    assert form.is_valid(), form.errors
    for name in ("visible_map", "player_pos", "exit_pos", "germs", "oxygenPellets", '"hint"', '"path"'):
        assert name in text
    answer = json.loads(text.split("Example answer:\n", 1)[1])
    maze = reference.example_maze()
    check = engine.validate_hint(answer, maze.width, maze.height, maze.walls)
    assert check.ignored == [] and check.applied["path"][0] in (
        [maze.start[0] + 1, maze.start[1]],
        [maze.start[0], maze.start[1] + 1],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["new", "edit"])
def test_the_form_pages_show_the_reference_and_load_the_example_script(page, client, django_user_model):
    from prompts import services

    user = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    template = services.template_create(owner=user, title="Mine", content="Lead on.")
    client.force_login(user)
    html = client.get("/templates/new/" if page == "new" else f"/templates/{template.id}/edit/").content.decode()
    assert html.count("<details") == 3
    assert html.count("<tr><td><code>") == 15
    assert "&quot;visible_map&quot;: [" in html  # the example state, autoescaped like all text
    assert 'id="template-example"' in html and 'id="template-use-example"' in html
    # The CSP allows no inline script: every script is a file.
    scripts = re.findall(r"<script[^>]*>", html)
    assert '<script type="module" src="/static/js/template-form.js">' in scripts
    assert all(" src=" in tag for tag in scripts)
    assert "style=" not in html
