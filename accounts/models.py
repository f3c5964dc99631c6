"""Personal API tokens (scripts call the JSON API with `Authorization: Bearer <token>`) and announcements."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # Only a SHA-256 digest is stored: a leaked database does not leak usable tokens.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, shown so its owner can tell tokens apart.
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "revoked_at"])]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Announcement(models.Model):
    """A notice organisers write in the admin; every page shows the active ones as a banner
    (static/js/announcements.js)."""

    class Priority(models.IntegerChoices):
        INFO = 0, "info"
        IMPORTANT = 1, "important"
        URGENT = 2, "urgent"

    title = models.CharField(max_length=120)
    body = models.TextField(max_length=2000, blank=True, help_text="Plain text; line breaks are kept.")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.INFO)
    active_from = models.DateTimeField(default=timezone.now, help_text="Shown from this moment on.")
    active_until = models.DateTimeField(null=True, blank=True, help_text="Hidden from this moment on; empty: never.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The order of the banners: the most pressing first, then the newest.
        ordering = ["-priority", "-active_from", "-id"]
        indexes = [models.Index(fields=["active_from", "active_until"])]

    def __str__(self):
        return self.title

    def clean(self):
        if self.active_until is not None and self.active_from is not None and self.active_until <= self.active_from:
            raise ValidationError({"active_until": "The end must come after the start."})

    def is_shown_at(self, now) -> bool:
        """The same window as accounts.announcements.active_announcements, for one object."""
        return self.active_from <= now and (self.active_until is None or self.active_until > now)
