"""Announcements in effect now, and their JSON for the banner every page polls (static/js/announcements.js)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Announcement

# More than this at once is noise, not news: the most pressing ones are shown.
MAX_SHOWN = 5


def active_announcements(now: datetime | None = None) -> QuerySet[Announcement]:
    now = now or timezone.now()
    return Announcement.objects.filter(Q(active_until__isnull=True) | Q(active_until__gt=now), active_from__lte=now)


def announcement_json(announcement: Announcement) -> dict:
    return {
        "id": announcement.id,
        "title": announcement.title,
        "body": announcement.body,
        "priority": announcement.get_priority_display(),
    }


def active_announcements_json(now: datetime | None = None) -> list[dict]:
    return [announcement_json(a) for a in active_announcements(now)[:MAX_SHOWN]]
