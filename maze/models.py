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


class Evaluation(models.Model):
    """A template evaluation: `game_count` seeded games played on the server by the autopilot (maze/autopilot.py)
    with one template version and the live LLM, run by a worker (maze/evaluation_runner.py)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.CANCELLED, Status.FAILED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maze_evaluations")
    template = models.ForeignKey(
        "prompts.PromptTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations"
    )
    template_version = models.PositiveIntegerField()
    template_title = models.CharField(max_length=200)
    # The prompt exactly as the games' state messages embed it: the results name the text they measured, even
    # after the template is edited or deleted.
    prompt = models.JSONField()
    game_count = models.PositiveSmallIntegerField()
    width = models.PositiveSmallIntegerField()
    height = models.PositiveSmallIntegerField()
    germ_count = models.PositiveSmallIntegerField()
    # Game i plays the maze of seed + i: two evaluations with the same seed play the same mazes (a fair comparison).
    seed = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    detail = models.TextField(blank=True)  # why it failed or was cancelled, in plain words
    cancel_requested = models.BooleanField(default=False)
    # The game being played: {"game": index, "hints": hints so far}; null between games.
    progress = models.JSONField(null=True, blank=True)
    runner = models.CharField(max_length=100, blank=True)  # the worker running it
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # claims so far: a worker restart resumes it
    summary = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["owner", "status"])]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of {self.template_title} v{self.template_version} ({self.status})"


class EvaluationGame(models.Model):
    """One finished game of an evaluation: its outcome as maze/autopilot.py's result() gives it."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="games")
    index = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField()
    won = models.BooleanField()
    points = models.IntegerField()
    result = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "index"], name="unique_evaluation_game")]

    def __str__(self) -> str:
        return f"evaluation {self.evaluation_id} game {self.index}"
