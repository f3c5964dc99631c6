"""Writes and reads of prompt templates, always scoped to their owner."""

from django.db import transaction
from django.http import Http404

from portal.ownership import reachable_by

from .models import PromptTemplate, TemplateVersion

MAX_CONTENT_CHARS = 20000


def templates_for_user(*, user):
    return PromptTemplate.objects.filter(owner=user)


def template_for_user(*, user, template_id: int) -> PromptTemplate:
    """The user's template (any template for staff), or Http404 (someone else's too: ids cannot be probed)."""
    template = reachable_by(PromptTemplate.objects, user).filter(id=template_id).first()
    if template is None:
        raise Http404("No such prompt template.")
    return template


@transaction.atomic
def template_create(
    *, owner, title: str, content: str, description: str = "", is_active: bool = True
) -> PromptTemplate:
    template = PromptTemplate.objects.create(
        owner=owner, title=title, content=content, description=description, is_active=is_active
    )
    _keep_version(template)
    return template


@transaction.atomic
def template_update(*, template: PromptTemplate, restored_from: int | None = None, **fields) -> PromptTemplate:
    """Apply changes and return the saved template. The version goes up, and is kept in the history, only when the
    content really changes: a new title, description or active flag alone makes no version.

    Read under the row lock: two saves at once must not both make version N+1 (the history's unique key)."""
    template = PromptTemplate.objects.select_for_update().get(pk=template.pk)
    content_changed = "content" in fields and fields["content"] != template.content
    if content_changed:
        template.version += 1
    for name, value in fields.items():
        setattr(template, name, value)
    template.save()
    if content_changed:
        _keep_version(template, restored_from=restored_from)
    return template


def _keep_version(template: PromptTemplate, restored_from: int | None = None) -> None:
    TemplateVersion.objects.create(
        template=template,
        version=template.version,
        title=template.title,
        content=template.content,
        restored_from=restored_from,
    )


def template_versions(template: PromptTemplate):
    """The template's saved versions, newest first (content deferred: a list shows dates and titles)."""
    return template.versions.defer("content")


MAX_VERSION = 2**31 - 1  # PositiveIntegerField's range: a larger number in a URL is simply not a version


def template_version(*, template: PromptTemplate, version: int) -> TemplateVersion:
    found = template.versions.filter(version=version).first() if 0 < version <= MAX_VERSION else None
    if found is None:
        raise Http404("No such version of this template.")
    return found


def template_restore(*, template: PromptTemplate, version: int) -> PromptTemplate:
    """Restoring an old version saves its title and content as a NEW version: history is never rewritten, and a
    score keeps naming the version its game really used. Restoring text identical to the current one changes
    nothing but the title."""
    old = template_version(template=template, version=version)
    return template_update(template=template, title=old.title, content=old.content, restored_from=old.version)


def template_json(template: PromptTemplate) -> dict:
    return {
        "id": template.id,
        "title": template.title,
        "description": template.description,
        "content": template.content,
        "version": template.version,
        "is_active": template.is_active,
        "created_at": template.created_at.isoformat(),
        "updated_at": template.updated_at.isoformat(),
    }


def version_json(version: TemplateVersion, *, with_content: bool = False) -> dict:
    data = {
        "version": version.version,
        "title": version.title,
        "restored_from": version.restored_from,
        "created_at": version.created_at.isoformat(),
    }
    if with_content:
        data["content"] = version.content
    return data


def template_summary(template: PromptTemplate | None) -> dict | None:
    return None if template is None else {"id": template.id, "title": template.title, "version": template.version}
