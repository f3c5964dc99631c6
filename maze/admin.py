from django.contrib import admin

from .models import Evaluation, EvaluationGame, MazeGame, Score


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


class EvaluationGameInline(admin.TabularInline):
    model = EvaluationGame
    fields = ("index", "seed", "won", "points")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    """Organisers see what evaluations run and why one failed; the worker alone changes their state."""

    list_display = ("id", "owner", "template_title", "template_version", "status", "game_count", "runner", "created_at")
    list_filter = ("status",)
    search_fields = ("owner__username", "template_title")
    readonly_fields = (
        "prompt",
        "summary",
        "progress",
        "runner",
        "heartbeat_at",
        "attempts",
        "started_at",
        "finished_at",
    )
    inlines = [EvaluationGameInline]
