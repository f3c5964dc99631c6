from django.contrib import admin
from django.utils import timezone

from .models import Announcement, ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "owner__username", "prefix")
    readonly_fields = ("digest", "prefix", "created_at", "last_used_at")


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("title", "priority", "active_from", "active_until", "is_active_now")
    list_filter = ("priority",)
    search_fields = ("title", "body")
    fields = ("title", "body", "priority", "active_from", "active_until")

    @admin.display(boolean=True, description="shown now")
    def is_active_now(self, announcement):
        return announcement.is_shown_at(timezone.now())
