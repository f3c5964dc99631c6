"""Chat sessions and their messages. Every object belongs to one user."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_session_key() -> str:
    # Unguessable and topic-safe: 16 hex characters.
    return secrets.token_hex(8)


class ChatSession(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    # The session's stable key: its sockets' group, its line of waiting messages and its turn lock in the worker.
    session_key = models.CharField(max_length=64, unique=True, default=new_session_key, editable=False)
    # The conversation the LLM service holds for this session: the MQTT sessionId (its memory key, public on the
    # broker), the system prompt it was first sent with (the service takes a session's prompt only once; None:
    # not sent yet). A new sessionId starts over: on reset, when the prompt in effect changes, or after a lost
    # answer.
    llm_session_key = models.CharField(max_length=64, default=new_session_key, editable=False)
    llm_system_prompt = models.TextField(null=True, blank=True, editable=False)
    # The request sent under it whose reply has not come, the worker holding it ("<client id>|<process token>")
    # and until when it may still be answered: while that holds, no other request of the session goes out (the
    # service's dialog per sessionId is not safe for overlapping requests); after it, the answer counts as lost.
    llm_open_request = models.CharField(max_length=64, blank=True, editable=False)
    llm_open_holder = models.CharField(max_length=200, blank=True, editable=False)
    llm_open_until = models.DateTimeField(null=True, blank=True, editable=False)
    title = models.CharField(max_length=200)
    preset = models.CharField(max_length=50, blank=True)
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.7)
    top_p = models.FloatField(default=0.9)
    max_tokens = models.PositiveIntegerField(default=512)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        permissions = [("write_others_chats", "Can write into other users' chat sessions")]

    def __str__(self) -> str:
        return f"{self.title} ({self.owner})"


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        # Said by the portal, not the model: e.g. "new conversation with the model: system prompt changed".
        NOTICE = "notice", "Notice"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # MQTT QoS 1 may deliver a reply twice: the database keeps it once.
            models.UniqueConstraint(
                fields=["request_id", "role"], condition=~Q(request_id=""), name="chat_message_once_per_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"
