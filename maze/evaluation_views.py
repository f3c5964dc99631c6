"""Template evaluation pages and JSON API. Thin: validate, call maze/evaluations.py, serialize."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render

from portal.api import json_api
from portal.db import run_db
from portal.http import InvalidInput, int_field, json_error, parse_json_object
from portal.mqtt import contract, gateway
from prompts.services import templates_for_user

from . import engine, evaluations, validation


def _id_query(request, name: str, *, required: bool = False) -> int | None:
    query = {k: v for k, v in request.GET.items() if v != ""}
    return int_field(query, name, low=1, high=2**63 - 1, required=required)


# -- pages --------------------------------------------------------------------------------------------------------
@login_required
def evaluations_page(request):
    templates = templates_for_user(user=request.user).only("id", "title", "version")
    chosen = _page_id(request, "template")
    return render(
        request,
        "maze/evaluations.html",
        {
            "templates": templates,
            "chosen": chosen,
            "evaluations": evaluations.evaluations_for_user(user=request.user),
            "defaults": {
                "games": validation.DEFAULT_EVALUATION_GAMES,
                "seed": validation.DEFAULT_EVALUATION_SEED,
                "width": engine.DEFAULT_WIDTH,
                "height": engine.DEFAULT_HEIGHT,
                "germs": 5,
                "max_germs": engine.MAX_GERMS,
                "max_games": settings.MAZE_EVALUATION["MAX_GAMES"],
                "max_size": validation.EVALUATION_MAX_SIZE,
            },
            "limits": settings.MAZE_EVALUATION,
        },
    )


def _page_id(request, name: str) -> int | None:
    try:
        return _id_query(request, name)
    except InvalidInput:
        return None  # a page shows its form instead of an error for a mangled link


@login_required
def evaluation_page(request, evaluation_id: int):
    evaluation = evaluations.evaluation_for_user(user=request.user, evaluation_id=evaluation_id)
    return render(request, "maze/evaluation.html", {"evaluation": evaluations.evaluation_json(evaluation, games=True)})


@login_required
def compare_page(request):
    a, b = _page_id(request, "a"), _page_id(request, "b")
    if a is None or b is None:
        return redirect("maze-evaluations")  # the list is where two are chosen
    comparison = evaluations.comparison(user=request.user, a_id=a, b_id=b)
    return render(request, "maze/evaluation_compare.html", {"comparison": comparison})


# -- API ----------------------------------------------------------------------------------------------------------
@json_api("GET", "POST")
async def api_evaluations(request):
    user = request.user  # loaded by json_api
    if request.method == "GET":
        template_id = _id_query(request, "template_id")

        def listed():
            return [
                evaluations.evaluation_json(e)
                for e in evaluations.evaluations_for_user(user=user, template_id=template_id)
            ]

        return JsonResponse({"results": await run_db(listed)})
    data = parse_json_object(request.body)
    fields = validation.evaluation_create(data, max_games=settings.MAZE_EVALUATION["MAX_GAMES"])
    version = int_field(data, "version", low=1, high=2**31 - 1)
    # An evaluation is nothing but LLM answers: say so now rather than queue it to fail.
    availability = await gateway.worker_availability()
    if not availability.ok:
        return json_error(
            f"{availability.detail} An evaluation needs the LLM service: none can start until it is back.",
            503,
            code=contract.ERROR_UNAVAILABLE,
            retry_after=availability.retry_after or 5,
        )
    evaluation = await run_db(
        lambda: evaluations.evaluation_json(evaluations.evaluation_create(owner=user, version=version, **fields))
    )
    return JsonResponse({"evaluation": evaluation}, status=201)


@json_api("GET")
def api_evaluation(request, evaluation_id: int):
    evaluation = evaluations.evaluation_for_user(user=request.user, evaluation_id=evaluation_id)
    games = request.GET.get("games") != "0"  # the page's progress poll leaves the games out
    return JsonResponse({"evaluation": evaluations.evaluation_json(evaluation, games=games)})


@json_api("POST")
def api_evaluation_cancel(request, evaluation_id: int):
    evaluation = evaluations.evaluation_cancel(user=request.user, evaluation_id=evaluation_id)
    return JsonResponse({"evaluation": evaluations.evaluation_json(evaluation)})


@json_api("GET")
def api_evaluation_compare(request):
    a, b = _id_query(request, "a", required=True), _id_query(request, "b", required=True)
    return JsonResponse(evaluations.comparison(user=request.user, a_id=a, b_id=b))
