"""Open WebSockets end with the login they were opened with (portal/consumers.py closes them with 4401).

A socket is authenticated once, at its handshake; it would otherwise keep sending and receiving as the user after
she logged out, or after her password changed (which signs out her other sessions). So:
- logout tells the sockets opened with that session to close;
- a saved password change tells all her sockets; each closes unless its session already carries the new password's
  hash (Django keeps the session that changed the password signed in);
- a deleted user (her own deletion, accounts/deletion.py, or the admin's) tells all her sockets, which all close.
The news goes through the channel layer to the user's group, so it reaches her sockets in every web process.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from portal.consumers import AUTH_CHANGED, AUTH_ENDED, session_fingerprint, user_group

log = logging.getLogger("accounts.socket_ends")


def _tell(user_id: int, event: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), event)
    except Exception as exc:  # noqa: BLE001 - the logout itself stands; sockets would end at their next check
        log.warning("could not tell open sockets that a login ended: %s", exc)


@receiver(user_logged_out)
def sockets_of_the_session_end(sender, request, user, **kwargs):
    if user is not None and request is not None and request.session.session_key:
        _tell(user.pk, {"type": AUTH_ENDED, "session": session_fingerprint(request.session.session_key)})


@receiver(post_save, sender=get_user_model())
def sockets_of_an_old_password_end(sender, instance, created, update_fields=None, **kwargs):
    if created or (update_fields is not None and "password" not in update_fields):
        return  # e.g. the last_login update at each login: nothing that ends a session
    _tell(instance.pk, {"type": AUTH_CHANGED, "auth_hash": instance.get_session_auth_hash()})


@receiver(post_delete, sender=get_user_model())
def sockets_of_a_deleted_user_end(sender, instance, **kwargs):
    # No session carries an empty hash, so every socket of the user closes. After the commit: a deletion that
    # rolled back leaves the user, and her sockets, as they were.
    user_id = instance.pk
    transaction.on_commit(lambda: _tell(user_id, {"type": AUTH_CHANGED, "auth_hash": ""}))
