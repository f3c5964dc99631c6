"""Maze games, scores and the leaderboard: writes and reads, scoped to their owner."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone

from portal.http import InvalidInput
from portal.ownership import reachable_by
from prompts.models import PromptTemplate
from prompts.services import template_summary

from . import engine
from .models import MazeGame, Score
from .play import Play

PELLETS_PER_GAME = 8
LEADERBOARD_PAGE_SIZE = 20
T = TypeVar("T")


def maze_of(game: MazeGame) -> engine.Maze:
    """The game's maze, regenerated from its seed (the server never trusts the browser's copy)."""
    return engine.generate(
        game.width, game.height, germ_count=game.germ_count, pellet_count=PELLETS_PER_GAME, seed=game.seed
    )


def game_for_user(*, user, game_id: int) -> MazeGame:
    try:
        return reachable_by(MazeGame.objects.select_related("template"), user).get(id=game_id)
    except MazeGame.DoesNotExist:
        raise Http404("No such maze game.") from None


def game_by_key_for_user(*, user, session_key: str) -> MazeGame:
    game = reachable_by(MazeGame.objects, user).filter(session_key=session_key).first()
    if game is None:
        raise Http404("No such maze game.")
    return game


def game_create(
    *, owner, width: int, height: int, germs: int, mode: str, template: PromptTemplate | None
) -> tuple[MazeGame, engine.Maze]:
    seed = random.SystemRandom().randrange(2**62)
    maze = engine.generate(width, height, germ_count=germs, pellet_count=PELLETS_PER_GAME, seed=seed)
    game = MazeGame.objects.create(
        owner=owner,
        width=width,
        height=height,
        germ_count=germs,
        seed=seed,
        mode=mode,
        template=template,
        template_version=template.version if template else None,
    )
    return game, maze


def game_set_template(*, game: MazeGame, template: PromptTemplate | None) -> MazeGame:
    game.template = template
    game.template_version = template.version if template else None
    game.save(update_fields=["template", "template_version"])
    return game


def template_for_llm(game: MazeGame) -> dict | None:
    """The game's template as PROTOCOL.md embeds it in state messages: the version the game started with (or
    switched to), not whatever the template holds now, so its hints and its score name one and the same prompt."""
    t = game.template
    if t is None:
        return None
    title, content, version = t.title, t.content, t.version
    if game.template_version is not None and game.template_version != t.version:
        used = t.versions.filter(version=game.template_version).first()
        if used is not None:
            title, content, version = used.title, used.content, used.version
    return {"title": title, "content": content, "version": version, "user_id": game.owner_id}


def game_json(game: MazeGame) -> dict:
    return {
        "id": game.id,
        "session_key": game.session_key,
        "width": game.width,
        "height": game.height,
        "germ_count": game.germ_count,
        "mode": game.mode,
        "status": game.status,
        # The version this game plays with (the template may have been edited since).
        "template": template_summary(game.template) | {"version": game.template_version} if game.template else None,
        "started_at": game.started_at.isoformat(),
    }


@transaction.atomic
def play_change(*, game_id: int, maze: engine.Maze, change: Callable[[Play], T]) -> T | None:
    """Apply `change(play)` to the stored record of a running game and store it; its result (None, changing
    nothing, once the game is finished: that record is what its score was computed from).

    Read and written under the game's row lock: every socket of a game (two tabs, a staff member watching)
    changes the one stored record, so none can overwrite what another recorded. A PlayError raised by `change`
    stores nothing of it."""
    game = MazeGame.objects.select_for_update().filter(pk=game_id, status=MazeGame.Status.PLAYING).first()
    if game is None:
        return None
    play = Play.from_json(game.play, maze) if game.play else Play.new(maze)
    result = change(play)
    MazeGame.objects.filter(pk=game_id).update(play=play.to_json())
    return result


@transaction.atomic
def game_finish(*, game: MazeGame, report_data: dict, play: dict | None = None) -> Score:
    """End the game (once) with the score of the play the server saw; the browser's report must agree with it.

    `play`: the record as the game's socket holds it (saved here first); else the one stored."""
    game = MazeGame.objects.select_for_update().get(pk=game.pk)
    if game.status != MazeGame.Status.PLAYING:
        raise InvalidInput("This game is already finished.", status=409)
    maze = maze_of(game)
    try:
        claimed = engine.validate_report(report_data, maze)
    except engine.ReportError as exc:
        raise InvalidInput(str(exc), field=exc.field) from None
    if claimed.mode != game.mode:
        raise InvalidInput(f"This game was played in '{game.mode}' mode.", field="mode")
    record = play if play is not None else game.play
    if record is None:
        raise InvalidInput(
            "The server saw no play of this game: moves are recorded over the game's socket.", field="steps"
        )
    seen = Play.from_json(record, maze)
    if (disagreement := seen.disagreement(claimed)) is not None:
        raise InvalidInput(disagreement[1], field=disagreement[0])
    report = seen.report(game.mode, claimed)
    breakdown = engine.score(report, maze)
    game.status = MazeGame.Status.WON if report.won else MazeGame.Status.LOST
    game.ended_at = timezone.now()
    game.play = record
    game.save(update_fields=["status", "ended_at", "play"])
    return Score.objects.create(
        user=game.owner,
        template=game.template,
        game=game,
        points=breakdown.points,
        won=report.won,
        duration_ms=report.duration_ms,
        steps=report.steps,
        shortest_path=engine.shortest_path_length(maze),
        path_efficiency=breakdown.path_efficiency,
        backtracks=report.backtracks,
        collisions=report.collisions,
        oxygen_collected=report.oxygen_collected,
        hint_count=report.hint_count,
        avg_hint_latency_ms=report.avg_hint_latency_ms,
        germ_count=game.germ_count,
        mode=report.mode,
        parts=breakdown.parts,
    )


def score_json(score: Score) -> dict:
    return {
        "points": score.points,
        "won": score.won,
        "path_efficiency": round(score.path_efficiency, 3),
        "parts": score.parts,
        "duration_ms": score.duration_ms,
    }


def leaderboard(*, template_id: int | None, page: int, mode: str | None = None) -> dict:
    """Best score of each (player, template) pair, highest first; filtered to one template and/or one mode
    ("lam" or "manual", engine.MODES) when asked. `participants` and `games` count every score the filter keeps,
    not only the best ones listed."""
    scores = Score.objects.all()
    if template_id is not None:
        scores = scores.filter(template_id=template_id)
    if mode is not None:
        scores = scores.filter(mode=mode)
    totals = scores.aggregate(participants=Count("user_id", distinct=True), games=Count("id"))
    best = (
        scores.annotate(
            rank_in_pair=Window(
                RowNumber(),
                partition_by=[F("user_id"), F("template_id")],
                order_by=[F("points").desc(), F("created_at").asc()],
            )
        )
        .filter(rank_in_pair=1)
        .select_related("user", "template", "game")
        .order_by("-points", "created_at", "id")
    )
    total = best.count()
    pages = max(1, -(-total // LEADERBOARD_PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * LEADERBOARD_PAGE_SIZE
    rows = list(best[start : start + LEADERBOARD_PAGE_SIZE])
    return {
        "results": [
            {
                "rank": start + i + 1,
                "user": s.user.get_username(),
                # Only the title is public: a template's content stays its owner's.
                "template": (
                    {"id": s.template_id, "title": s.template.title, "version": s.game.template_version}
                    if s.template
                    else None
                ),
                "points": s.points,
                "won": s.won,
                "duration_ms": s.duration_ms,
                "path_efficiency": round(s.path_efficiency, 3),
                "mode": s.mode,
                "created_at": s.created_at.isoformat(),
            }
            for i, s in enumerate(rows)
        ],
        "page": page,
        "pages": pages,
        "total": total,
        "participants": totals["participants"],
        "games": totals["games"],
    }


def leaderboard_templates() -> list[dict]:
    """Templates that have at least one score, for the leaderboard's filter (titles only)."""
    used = PromptTemplate.objects.filter(scores__isnull=False).distinct().order_by("title")[:200]
    return [{"id": t.id, "title": t.title} for t in used]
