"""Prompt template pages (server-rendered forms) and the JSON API under /api/templates/."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from portal.api import json_api
from portal.http import parse_json_object
from portal.ownership import check_may_write

from . import services, validation
from .forms import PromptTemplateForm


# -- pages ---------------------------------------------------------------------------------------------------
@login_required
def template_list(request):
    return render(request, "prompts/list.html", {"templates": services.templates_for_user(user=request.user)})


@login_required
def template_detail(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    return render(request, "prompts/detail.html", {"template": template})


@login_required
def template_new(request):
    form = PromptTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        template = services.template_create(owner=request.user, **form.cleaned_data)
        return redirect("prompt-template", template_id=template.id)
    return render(request, "prompts/form.html", {"form": form, "template": None}, status=400 if form.errors else 200)


WRITE_OTHERS = "prompts.write_others_templates"


def _may_write(user, template) -> None:
    check_may_write(user, template.owner_id, WRITE_OTHERS, "templates")


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
    return render(
        request, "prompts/form.html", {"form": form, "template": template}, status=400 if form.errors else 200
    )


@login_required
def template_delete(request, template_id: int):
    template = services.template_for_user(user=request.user, template_id=template_id)
    _may_write(request.user, template)
    if request.method == "POST":
        template.delete()
        return redirect("prompt-templates")
    return render(request, "prompts/confirm_delete.html", {"template": template})


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
