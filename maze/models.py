"""Maze games and their scores. The maze itself is regenerated from (size, germs, seed) by maze/engine.py."""

import secrets

from django.conf import settings
from django.db import models


def new_game_key() -> str:
    # The game's sessionId on MQTT (maze/hint/<key>): unguessable and topic-safe.
    return "game-" + secrets.token_hex(6)


class MazeGame(models.Model):
    class Mode(models.TextChoices):
        MANUAL = "manual", "Manual (hints only)"
        LAM = "lam", "LAM (follow the LLM's path)"

    class Status(models.TextChoices):
        PLAYING = "playing", "Playing"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maze_games")
    template = models.ForeignKey(
        "prompts.PromptTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="maze_games"
    )
    template_version = models.PositiveIntegerField(null=True, blank=True)
    session_key = models.CharField(max_length=64, unique=True, default=new_game_key, editable=False)
    width = models.PositiveSmallIntegerField()
    height = models.PositiveSmallIntegerField()
    germ_count = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.MANUAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLAYING)
    # What the server saw of the play (maze/play.py): the score comes from it, never from the browser's word alone.
    play = models.JSONField(null=True, blank=True, editable=False)
    last_hint = models.JSONField(null=True, blank=True)
    last_hint_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("write_others_games", "Can play and finish other users' maze games")]

    def __str__(self) -> str:
        return f"{self.session_key} ({self.owner}, {self.status})"


class Score(models.Model):
    """One per finished game: the server's own computation from validated metrics (formula: maze/engine.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maze_scores")
    template = models.ForeignKey(
        "prompts.PromptTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="scores"
    )
    game = models.OneToOneField(MazeGame, on_delete=models.CASCADE, related_name="score")
    points = models.IntegerField()
    won = models.BooleanField()
    duration_ms = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    shortest_path = models.PositiveIntegerField()
    path_efficiency = models.FloatField()
    backtracks = models.PositiveIntegerField()
    collisions = models.PositiveIntegerField()
    oxygen_collected = models.PositiveIntegerField()
    hint_count = models.PositiveIntegerField()
    avg_hint_latency_ms = models.FloatField(null=True, blank=True)
    germ_count = models.PositiveSmallIntegerField()
    mode = models.CharField(max_length=10)
    parts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-points", "created_at"]
        indexes = [models.Index(fields=["template", "-points"]), models.Index(fields=["-points"])]

    def __str__(self) -> str:
        return f"{self.user} {self.points}"
