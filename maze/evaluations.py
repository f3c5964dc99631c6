"""Template evaluations: writes and reads for the API and pages, and the bookkeeping of the worker that runs them
(maze/evaluation_runner.py). Everything here is synchronous ORM code; the runner calls it through the DB thread.

Life of an evaluation: queued → running (a worker claimed it) → done | cancelled | failed. A running evaluation
whose worker stops saying it is alive (heartbeat_at) was interrupted: it goes back to the queue with its finished
games kept, and the game that was being played is played again; after MAX_ATTEMPTS claims it is marked failed.
Nothing stays "running" without a live worker behind it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from portal.http import InvalidInput
from portal.ownership import check_may_write, reachable_by
from prompts.models import PromptTemplate

from . import evaluation_stats
from .models import Evaluation, EvaluationGame

LIST_LIMIT = 100
WRITE_OTHERS = "maze.write_others_games"
ACTIVE = (Evaluation.Status.QUEUED, Evaluation.Status.RUNNING)


def limits() -> dict:
    return settings.MAZE_EVALUATION


# -- the API and pages ------------------------------------------------------------------------------------------
def _prompt_of(template: PromptTemplate, version: int | None) -> dict:
    """The template's text at `version` (the current one when None), as state messages embed it."""
    title, content = template.title, template.content
    if version is not None and version != template.version:
        kept = template.versions.filter(version=version).first()
        if kept is None:
            raise InvalidInput(f"This template has no version {version}.", field="version")
        title, content = kept.title, kept.content
    return {
        "title": title,
        "content": content,
        "version": template.version if version is None else version,
        "user_id": template.owner_id,
    }


@transaction.atomic
def evaluation_create(*, owner, template_id: int, version: int | None = None, **fields) -> Evaluation:
    """Queue an evaluation of one of the owner's templates (an evaluation spends LLM time in the owner's name, so
    staff evaluate only their own). 429 past the per-user limit of queued and running evaluations."""
    template = PromptTemplate.objects.filter(owner=owner, id=template_id).first()
    if template is None:
        raise Http404("No such prompt template of yours.")
    # The owner's row lock: two requests at once must not both pass the limit.
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    active = Evaluation.objects.filter(owner=owner, status__in=ACTIVE).count()
    if active >= limits()["MAX_PER_USER"]:
        raise InvalidInput(
            f"You have {active} evaluations queued or running (at most {limits()['MAX_PER_USER']}). "
            "Wait for one to finish, or cancel one.",
            status=429,
        )
    prompt = _prompt_of(template, version)
    return Evaluation.objects.create(
        owner=owner,
        template=template,
        template_version=prompt["version"],
        template_title=prompt["title"],
        prompt=prompt,
        **fields,
    )


def evaluations_for_user(*, user, template_id: int | None = None):
    evaluations = Evaluation.objects.filter(owner=user).defer("prompt")
    if template_id is not None:
        evaluations = evaluations.filter(template_id=template_id)
    return evaluations[:LIST_LIMIT]


def evaluation_for_user(*, user, evaluation_id: int) -> Evaluation:
    evaluation = reachable_by(Evaluation.objects, user).filter(id=evaluation_id).first()
    if evaluation is None:
        raise Http404("No such evaluation.")
    return evaluation


@transaction.atomic
def evaluation_cancel(*, user, evaluation_id: int) -> Evaluation:
    """A queued evaluation ends at once; a running one at its next hint (its finished games are kept)."""
    evaluation = reachable_by(Evaluation.objects.select_for_update(), user).filter(id=evaluation_id).first()
    if evaluation is None:
        raise Http404("No such evaluation.")
    check_may_write(user, evaluation.owner_id, WRITE_OTHERS, "evaluations")
    if evaluation.status in Evaluation.FINISHED:
        raise InvalidInput(f"This evaluation has already ended ({evaluation.status}).", status=409)
    if evaluation.status == Evaluation.Status.QUEUED:
        _end(evaluation, Evaluation.Status.CANCELLED, "Cancelled before it started.")
    else:
        evaluation.cancel_requested = True
        evaluation.save(update_fields=["cancel_requested"])
    return evaluation


def _end(evaluation: Evaluation, status: str, detail: str) -> None:
    evaluation.status, evaluation.detail = status, detail
    evaluation.finished_at = timezone.now()
    evaluation.progress = None
    evaluation.runner = ""
    evaluation.save(update_fields=["status", "detail", "finished_at", "progress", "runner"])


def template_summary(evaluation: Evaluation) -> dict:
    return {"id": evaluation.template_id, "title": evaluation.template_title, "version": evaluation.template_version}


def evaluation_json(evaluation: Evaluation, *, games: bool = False) -> dict[str, Any]:
    done = evaluation.summary["games"] if evaluation.summary else 0
    data = {
        "id": evaluation.id,
        "template": template_summary(evaluation),
        "status": evaluation.status,
        "detail": evaluation.detail,
        "cancel_requested": evaluation.cancel_requested,
        "games": evaluation.game_count,
        "games_done": done,
        "progress": evaluation.progress,
        "settings": {
            "width": evaluation.width,
            "height": evaluation.height,
            "germs": evaluation.germ_count,
            "seed": evaluation.seed,
        },
        "summary": evaluation.summary,
        "created_at": evaluation.created_at.isoformat(),
        "started_at": evaluation.started_at.isoformat() if evaluation.started_at else None,
        "finished_at": evaluation.finished_at.isoformat() if evaluation.finished_at else None,
    }
    if games:
        data["results"] = [game_json(g) for g in evaluation.games.all()]
    return data


def game_json(game: EvaluationGame) -> dict[str, Any]:
    return {"index": game.index, "seed": game.seed, "won": game.won, "points": game.points, **game.result}


def comparison(*, user, a_id: int, b_id: int) -> dict[str, Any]:
    """Two evaluations side by side; games of the same seed face each other (same settings, same mazes)."""
    a = evaluation_for_user(user=user, evaluation_id=a_id)
    b = evaluation_for_user(user=user, evaluation_id=b_id)
    same_mazes = (a.width, a.height, a.germ_count, a.seed) == (b.width, b.height, b.germ_count, b.seed)
    b_by_index = {g.index: g for g in b.games.all()}
    pairs = [
        {
            "index": g.index,
            "a": g.points,
            "a_won": g.won,
            "b": bg.points if bg else None,
            "b_won": bg.won if bg else None,
        }
        for g in a.games.all()
        for bg in [b_by_index.get(g.index)]
    ]
    return {
        "a": evaluation_json(a),
        "b": evaluation_json(b),
        "rows": evaluation_stats.compare(a.summary, b.summary),
        "same_mazes": same_mazes,
        "pairs": pairs if same_mazes else [],
    }


# -- the runner's bookkeeping -------------------------------------------------------------------------------------
def requeue_stale() -> list[int]:
    """Running evaluations whose worker went silent: back to the queue, or failed after MAX_ATTEMPTS claims."""
    cutoff = timezone.now() - timedelta(seconds=limits()["STALE_AFTER"])
    stale = Q(status=Evaluation.Status.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    if not Evaluation.objects.filter(stale).exists():
        return []  # the usual answer, read without a transaction (one takes SQLite's write lock)
    touched = []
    with transaction.atomic():
        for evaluation in Evaluation.objects.select_for_update().filter(stale):
            touched.append(evaluation.id)
            if evaluation.cancel_requested:
                _end(evaluation, Evaluation.Status.CANCELLED, "Cancelled.")
            elif evaluation.attempts >= limits()["MAX_ATTEMPTS"]:
                _end(
                    evaluation,
                    Evaluation.Status.FAILED,
                    f"Interrupted {evaluation.attempts} times (its worker stopped); given up.",
                )
            else:
                release(evaluation.id, runner=evaluation.runner)
    return touched


def any_queued() -> bool:
    return Evaluation.objects.filter(status=Evaluation.Status.QUEUED).exists()


def claim_next(*, runner: str) -> dict[str, Any] | None:
    """Take the oldest queued evaluation if fewer than MAX_RUNNING run; what the runner needs to play it.

    The caller holds the claim lock (one claimer at a time over all workers), so the count cannot be outrun."""
    if Evaluation.objects.filter(status=Evaluation.Status.RUNNING).count() >= limits()["MAX_RUNNING"]:
        return None
    with transaction.atomic():
        evaluation = (
            Evaluation.objects.select_for_update()
            .filter(status=Evaluation.Status.QUEUED)
            .order_by("created_at", "id")
            .first()
        )
        if evaluation is None:
            return None
        now = timezone.now()
        evaluation.status = Evaluation.Status.RUNNING
        evaluation.runner, evaluation.heartbeat_at = runner, now
        evaluation.started_at = evaluation.started_at or now
        evaluation.attempts += 1
        evaluation.save(update_fields=["status", "runner", "heartbeat_at", "started_at", "attempts"])
    done = set(evaluation.games.values_list("index", flat=True))
    return {
        "id": evaluation.id,
        "owner_id": evaluation.owner_id,
        "prompt": evaluation.prompt,
        "width": evaluation.width,
        "height": evaluation.height,
        "germ_count": evaluation.germ_count,
        "games": [(i, evaluation.seed + i) for i in range(evaluation.game_count) if i not in done],
    }


def _mine(evaluation_id: int, runner: str):
    return Evaluation.objects.filter(id=evaluation_id, runner=runner, status=Evaluation.Status.RUNNING)


def heartbeat(*, runner: str) -> None:
    Evaluation.objects.filter(runner=runner, status=Evaluation.Status.RUNNING).update(heartbeat_at=timezone.now())


def still_wanted(*, evaluation_id: int, runner: str) -> bool:
    """False once cancelled, or once no longer this runner's (requeued after a stall): stop playing it."""
    row = _mine(evaluation_id, runner).values_list("cancel_requested", flat=True).first()
    return row is False


def record_progress(*, evaluation_id: int, runner: str, game: int, hints: int) -> None:
    _mine(evaluation_id, runner).update(progress={"game": game, "hints": hints}, heartbeat_at=timezone.now())


@transaction.atomic
def record_game(*, evaluation_id: int, runner: str, index: int, seed: int, result: dict) -> bool:
    """Keep one finished game and refresh the summary; False when the evaluation is no longer this runner's."""
    evaluation = _mine(evaluation_id, runner).select_for_update().first()
    if evaluation is None:
        return False
    EvaluationGame.objects.update_or_create(
        evaluation=evaluation,
        index=index,
        defaults={"seed": seed, "won": result["won"], "points": result["points"], "result": result},
    )
    results = [g.result for g in evaluation.games.all()]
    evaluation.summary = evaluation_stats.summarize(results)
    evaluation.progress = None
    evaluation.heartbeat_at = timezone.now()
    evaluation.save(update_fields=["summary", "progress", "heartbeat_at"])
    return True


@transaction.atomic
def finish(*, evaluation_id: int, runner: str, status: str, detail: str = "") -> None:
    evaluation = _mine(evaluation_id, runner).select_for_update().first()
    if evaluation is not None:
        if status == Evaluation.Status.DONE and evaluation.cancel_requested:
            status, detail = Evaluation.Status.CANCELLED, "Cancelled."
        _end(evaluation, status, detail)


def release(evaluation_id: int, *, runner: str) -> None:
    """Back to the queue (this worker is stopping, or went silent): another claim plays its remaining games."""
    _mine(evaluation_id, runner).update(status=Evaluation.Status.QUEUED, runner="", progress=None, heartbeat_at=None)
