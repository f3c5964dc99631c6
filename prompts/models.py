"""Prompt templates: a user's system prompts, used by chat sessions and by the maze's LLM ("large action model").

A small app of its own so that both feature apps can use templates while never importing each other.
"""

from django.conf import settings
from django.db import models


class PromptTemplate(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_templates")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    content = models.TextField(max_length=20000)
    version = models.PositiveIntegerField(default=1, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        permissions = [("write_others_templates", "Can edit other users' prompt templates")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class TemplateVersion(models.Model):
    """One saved content of a template: written whenever the content changes (a title-only edit makes none), so any
    score can be traced to the exact text its game was played with (MazeGame.template_version)."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    content = models.TextField(max_length=20000)
    # Set when this version was made by restoring an older one, so the history says where the text came from.
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="unique_template_version")]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.version}"
