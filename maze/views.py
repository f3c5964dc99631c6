"""Maze pages and JSON API. Thin: validate, call one service, serialize."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from portal.api import json_api
from portal.db import run_db
from portal.http import InvalidInput, int_field, parse_json_object, str_field
from portal.ownership import check_may_write
from prompts.services import template_for_user, template_summary, templates_for_user

from . import engine, score_formula, services, validation
from .publishing import announce_template, publish_template

WRITE_OTHERS = "maze.write_others_games"


@login_required
def play_page(request):
    templates = [template_summary(t) for t in templates_for_user(user=request.user).filter(is_active=True)]
    return render(request, "maze/play.html", {"templates": templates})


@login_required
def leaderboard_page(request):
    return render(
        request,
        "maze/leaderboard.html",
        {"templates": services.leaderboard_templates(), "formula": score_formula.formula_parts()},
    )


def _template_or_none(user, template_id):
    return None if template_id is None else template_for_user(user=user, template_id=template_id)


@json_api("POST")
async def games(request):
    fields = validation.game_create(parse_json_object(request.body))
    user = request.user  # loaded by json_api

    def create():
        template = _template_or_none(user, fields.pop("template_id"))
        game, maze = services.game_create(owner=user, template=template, **fields)
        return services.game_json(game), engine.maze_json(maze), services.template_for_llm(game)

    try:
        game, maze, llm_template = await run_db(create)
    except ValueError as exc:  # the engine refused the size or germ count
        raise InvalidInput(str(exc)) from None
    await publish_template(session_key=game["session_key"], template=llm_template)
    return JsonResponse({"game": game, "maze": maze}, status=201)


@json_api("GET", "PATCH")
async def game_detail(request, game_id: int):
    user = request.user  # loaded by json_api
    if request.method == "GET":
        return JsonResponse(
            {"game": await run_db(lambda: services.game_json(services.game_for_user(user=user, game_id=game_id)))}
        )
    template_id = validation.template_choice(parse_json_object(request.body))

    def switch():
        game = services.game_for_user(user=user, game_id=game_id)
        check_may_write(user, game.owner_id, WRITE_OTHERS, "games")
        game = services.game_set_template(game=game, template=_template_or_none(user, template_id))
        return services.game_json(game), services.template_for_llm(game)

    game, llm_template = await run_db(switch)
    await publish_template(session_key=game["session_key"], template=llm_template)
    await announce_template(session_key=game["session_key"], summary=game["template"], template=llm_template)
    return JsonResponse({"game": game})


@json_api("POST")
def game_finish(request, game_id: int):
    game = services.game_for_user(user=request.user, game_id=game_id)
    check_may_write(request.user, game.owner_id, WRITE_OTHERS, "games")
    score = services.game_finish(game=game, report_data=parse_json_object(request.body))
    return JsonResponse({"score": services.score_json(score)}, status=201)


@json_api("GET")
def last_hint(request):
    session_key = str_field(request.GET, "session_id", max_length=64, required=True, allow_blank=False)
    game = services.game_by_key_for_user(user=request.user, session_key=session_key)
    return JsonResponse(
        {
            "session_id": game.session_key,
            "hint": game.last_hint,
            "received_at": game.last_hint_at.isoformat() if game.last_hint_at else None,
        }
    )


@json_api("GET")
def leaderboard(request):
    query = {k: v for k, v in request.GET.items() if v != ""}
    template_id = int_field(query, "template_id", low=1, high=2**63 - 1)
    page = int_field(query, "page", low=1, high=10**6) or 1
    mode = query.get("mode")  # absent: every mode, as before the page had tabs
    if mode is not None and mode not in engine.MODES:
        raise InvalidInput("'mode' must be 'lam' or 'manual'.", field="mode")
    return JsonResponse(services.leaderboard(template_id=template_id, page=page, mode=mode))
