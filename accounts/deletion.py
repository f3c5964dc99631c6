"""A user deletes her own account: the user row and, by the foreign keys' CASCADE, everything she owns (chat sessions
and their messages, maze games and scores, prompt templates, API tokens, admin log entries).

Her open WebSockets end by accounts/socket_ends.py's post_delete receiver, in every web process, so no socket keeps
acting for a user who no longer exists. Her failed-login records (django-axes) name her username, which someone
else may take next: they go too, so a stranger does not inherit a lockout.
"""

from __future__ import annotations

from axes.utils import reset as reset_login_failures
from django.db import transaction


def delete_account(*, user) -> None:
    username = user.get_username()
    with transaction.atomic():
        user.delete()
    reset_login_failures(username=username)
