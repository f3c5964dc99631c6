"""What a template try (POST /api/templates/<id>/try) runs: the owner's template and the maze it is tried on.

The sending and waiting are maze/trial.py's; this module only reads, scoped to the one user asking. A try costs an
LLM answer, so it takes only the user's OWN templates and games (staff included: they read others' templates but
do not spend LLM time in their name).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from maze import engine
from maze import services as maze_services
from maze.models import MazeGame

from . import reference
from .models import PromptTemplate

RECENT_GAMES = 10


@dataclass(frozen=True)
class TrySetup:
    template: dict  # as a state message embeds it (docs/protocol.md "Maze state")
    template_summary: dict
    maze: engine.Maze
    source: dict  # what the page shows: which maze this is


def own_template(*, user, template_id: int) -> PromptTemplate:
    template = PromptTemplate.objects.filter(owner=user, id=template_id).first()
    if template is None:
        raise Http404("No such prompt template of yours.")
    return template


def recent_games(*, user):
    """The user's last games, newest first: the mazes a try may replay."""
    return MazeGame.objects.filter(owner=user).only("id", "width", "height", "started_at", "status")[:RECENT_GAMES]


def setup(*, user, template_id: int, game_id: int | None) -> TrySetup:
    template = own_template(user=user, template_id=template_id)
    if game_id is None:
        maze = reference.example_maze()
        source = {"kind": "example", "game_id": None, "width": maze.width, "height": maze.height}
    else:
        game = MazeGame.objects.filter(owner=user, id=game_id).first()
        if game is None:
            raise Http404("No such maze game of yours.")
        maze = maze_services.maze_of(game)  # regenerated from its seed, as the game itself was
        source = {"kind": "game", "game_id": game.id, "width": maze.width, "height": maze.height}
    return TrySetup(
        template={
            "title": template.title,
            "content": template.content,
            "version": template.version,
            "user_id": user.pk,
        },
        template_summary={"id": template.id, "title": template.title, "version": template.version},
        maze=maze,
        source=source,
    )
