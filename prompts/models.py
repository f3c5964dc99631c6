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
