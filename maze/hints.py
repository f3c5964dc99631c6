"""The worker's hook into the maze app (settings.WORKER["MAZE_HINT_STORE"]): remember a game's last hint.

Runs in the worker process, off the MQTT thread, so GET /api/maze/last_hint answers even when no socket of
that game is open.
"""

from django.utils import timezone

from .models import MazeGame
from .trial import is_try_key

NOTICE_TEXTS = {"Template updated"}


def store_hint(*, session_key: str, hint: dict) -> bool:
    """False for an unknown game. Notices ("Template updated") are not hints and are not kept. A template try's
    hint (maze/trial.py) is relayed to the request waiting for it but stored nowhere: it belongs to no game."""
    if is_try_key(session_key):
        return True
    if hint.get("hint") in NOTICE_TEXTS and len(hint) == 1:
        return MazeGame.objects.filter(session_key=session_key).exists()
    return MazeGame.objects.filter(session_key=session_key).update(last_hint=hint, last_hint_at=timezone.now()) > 0
