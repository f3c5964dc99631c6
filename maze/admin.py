from django.contrib import admin

from .models import MazeGame, Score


@admin.register(MazeGame)
class MazeGameAdmin(admin.ModelAdmin):
    list_display = ("session_key", "owner", "template", "mode", "status", "width", "height", "germ_count", "started_at")
    list_filter = ("status", "mode")
    search_fields = ("session_key", "owner__username")
    readonly_fields = ("session_key", "started_at", "last_hint", "last_hint_at")


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ("user", "template", "points", "won", "duration_ms", "path_efficiency", "mode", "created_at")
    list_filter = ("won", "mode")
    search_fields = ("user__username", "template__title")
