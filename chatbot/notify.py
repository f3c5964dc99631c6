"""Tell a session's open chat sockets that it changed (settings, reset, deletion).

Sockets keep the session in memory instead of re-reading it for every message; this event is what keeps their
copy current. What reaches the model does not depend on it: the worker reads the session as it is on each turn.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from portal.mqtt.contract import chat_group

log = logging.getLogger("chatbot.notify")

SESSION_CHANGED = "chat.session_changed"


def session_changed(session_key: str, *, deleted: bool = False) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(
            chat_group(session_key), {"type": SESSION_CHANGED, "deleted": deleted}
        )
    except Exception as exc:  # noqa: BLE001 - the change itself is stored; only open sockets miss the news
        log.warning("could not tell open chat sockets about a session change: %s", exc)
