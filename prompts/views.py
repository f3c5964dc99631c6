"""Prompt template pages (server-rendered forms) and the JSON API under /api/templates/."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from maze import trial
from portal import ratelimit
from portal.api import json_api
from portal.http import json_error, parse_json_object
from portal.ownership import check_may_write

from . import reference, services, trying, validation
from .forms import PromptTemplateForm


# -- pages ---------------------------------------------------------------------------------------------------
@login_required
def template_list(request):
    return render(request, "prompts/list.html", {"templates": services.templates_for_user(user=request.user)})


@login_required
def template_detail(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    # The Try it panel is the owner's only (a try spends LLM time in the owner's name).
    games = trying.recent_games(user=request.user) if template.owner_id == request.user.pk else None
    return render(request, "prompts/detail.html", {"template": template, "try_games": games})


@login_required
def template_new(request):
    form = PromptTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        template = services.template_create(owner=request.user, **form.cleaned_data)
        return redirect("prompt-template", template_id=template.id)
    return _form_page(request, form, None)


def _form_page(request, form, template):
    context = {"form": form, "template": template, "reference": reference.form_reference()}
    return render(request, "prompts/form.html", context, status=400 if form.errors else 200)


WRITE_OTHERS = "prompts.write_others_templates"
MAX_VERSIONS_LISTED = 500


def _may_write(user, template) -> None:
    check_may_write(user, template.owner_id, WRITE_OTHERS, "templates")


def _can_write(user, template) -> bool:
    # For showing a Restore button only; every write still goes through _may_write.
    return template.owner_id == user.pk or user.has_perm(WRITE_OTHERS)


@login_required
def template_edit(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    _may_write(request.user, template)
    form = PromptTemplateForm(
        request.POST or None,
        initial={
            "title": template.title,
            "description": template.description,
            "content": template.content,
            "is_active": template.is_active,
        },
    )
    if request.method == "POST" and form.is_valid():
        services.template_update(template=template, **form.cleaned_data)
        return redirect("prompt-template", template_id=template.id)
    return _form_page(request, form, template)


@login_required
def template_delete(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    _may_write(request.user, template)
    if request.method == "POST":
        template.delete()
        return redirect("prompt-templates")
    return render(request, "prompts/confirm_delete.html", {"template": template})


@login_required
def template_history(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    context = {"template": template, "versions": services.template_versions(template)[:MAX_VERSIONS_LISTED]}
    return render(request, "prompts/history.html", context)


@login_required
def template_version_page(request, template_id: int, version: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    old = services.template_version(template=template, version=version)
    may_restore = old.version != template.version and _can_write(request.user, template)
    return render(request, "prompts/version.html", {"template": template, "v": old, "may_restore": may_restore})


@login_required
@require_POST
def template_version_restore(request, template_id: int, version: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    _may_write(request.user, template)
    before = template.version
    template = services.template_restore(template=template, version=version)
    if template.version == before:
        messages.info(request, f"Version {version} has the current text: nothing to restore.")
    else:
        messages.success(request, f"Version {version} restored as version {template.version}.")
    return redirect("prompt-template-history", template_id=template.id)


# -- JSON API ------------------------------------------------------------------------------------------------
@json_api("GET", "POST")
def api_templates(request):
    if request.method == "POST":
        fields = validation.template_fields(parse_json_object(request.body), partial=False)
        return JsonResponse(services.template_json(services.template_create(owner=request.user, **fields)), status=201)
    return JsonResponse(
        {"templates": [services.template_json(t) for t in services.templates_for_user(user=request.user)[:500]]}
    )


@json_api("GET", "PATCH", "DELETE")
def api_template(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    if request.method != "GET":
        _may_write(request.user, template)
    if request.method == "PATCH":
        fields = validation.template_fields(parse_json_object(request.body), partial=True)
        template = services.template_update(template=template, **fields)
    elif request.method == "DELETE":
        template.delete()
        return HttpResponse(status=204)
    return JsonResponse(services.template_json(template))


@json_api("GET")
def api_template_versions(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    versions = services.template_versions(template)[:MAX_VERSIONS_LISTED]
    return JsonResponse(
        {
            "template_id": template.id,
            "version": template.version,
            "versions": [services.version_json(v) for v in versions],
        }
    )


@json_api("GET")
def api_template_version(request, template_id: int, version: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    return JsonResponse(
        services.version_json(services.template_version(template=template, version=version), with_content=True)
    )


@json_api("POST")
def api_template_version_restore(request, template_id: int, version: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    _may_write(request.user, template)
    return JsonResponse(services.template_json(services.template_restore(template=template, version=version)))


def _try_setup(request, user, template_id: int):
    game_id = validation.try_source(parse_json_object(request.body))
    return trying.setup(user=user, template_id=template_id, game_id=game_id)


@json_api("POST", preload=_try_setup)
async def api_template_try(request, template_id: int, preloaded):
    """Send one maze state to the LLM with this template and answer with what the game would make of the hint."""
    setup = preloaded
    limit = ratelimit.Limit.parse(settings.HINT_RATE_LIMIT)  # a try is a hint request: the same budget
    if wait := await ratelimit.retry_after(scope="hint", user_id=request.user.pk, limit=limit):
        return json_error(f"Too many hint requests. Please wait {wait} s.", 429, code="rate_limited", retry_after=wait)
    state = trial.start_state(maze=setup.maze, session_key=trial.new_try_key(), template=setup.template)
    outcome = await trial.ask(state=state, timeout=settings.MAZE_TRY_TIMEOUT)
    if outcome.hint is None:
        extra = {"retry_after": outcome.retry_after} if outcome.retry_after else {}
        return json_error(outcome.detail, outcome.status, code=outcome.code, **extra)
    return JsonResponse(
        {
            "session_id": state["sessionId"],
            "template": setup.template_summary,
            "source": setup.source,
            "state": state,
            "latency_ms": outcome.latency_ms,
            **trial.report(hint=outcome.hint, maze=setup.maze),
        }
    )
