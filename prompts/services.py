"""Writes and reads of prompt templates, always scoped to their owner."""

from django.http import Http404

from portal.ownership import reachable_by

from .models import PromptTemplate

MAX_CONTENT_CHARS = 20000


def templates_for_user(*, user):
    return PromptTemplate.objects.filter(owner=user)


def template_for_user(*, user, template_id: int) -> PromptTemplate:
    """The user's template (any template for staff), or Http404 (someone else's too: ids cannot be probed)."""
    template = reachable_by(PromptTemplate.objects, user).filter(id=template_id).first()
    if template is None:
        raise Http404("No such prompt template.")
    return template


def template_create(
    *, owner, title: str, content: str, description: str = "", is_active: bool = True
) -> PromptTemplate:
    return PromptTemplate.objects.create(
        owner=owner, title=title, content=content, description=description, is_active=is_active
    )


def template_update(*, template: PromptTemplate, **fields) -> PromptTemplate:
    """Apply changes; the version goes up only when the content really changes."""
    if "content" in fields and fields["content"] != template.content:
        template.version += 1
    for name, value in fields.items():
        setattr(template, name, value)
    template.save()
    return template


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


def template_summary(template: PromptTemplate | None) -> dict | None:
    return None if template is None else {"id": template.id, "title": template.title, "version": template.version}
