"""Reads of chat objects, always scoped to their owner (someone else's object is simply not found)."""

from django.http import Http404

from portal.ownership import owner_filter

from .models import ChatMessage, ChatSession


def sessions_for_user(*, user):
    return ChatSession.objects.filter(owner=user)


def session_for_user(*, user, session_id: int) -> ChatSession:
    """The user's session (any session for staff), or Http404, also for another user's session."""
    session = ChatSession.objects.filter(id=session_id, **owner_filter(user)).first()
    if session is None:
        raise Http404("No such chat session.")
    return session


def messages_for_session(*, session: ChatSession, limit: int = 500):
    recent = ChatMessage.objects.filter(session=session).order_by("-created_at", "-id")[:limit]
    return list(reversed(recent))


def all_messages_for_session(*, session: ChatSession):
    """The whole history, oldest first (an export holds every message, not only the recent ones)."""
    return ChatMessage.objects.filter(session=session).order_by("created_at", "id")
