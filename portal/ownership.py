"""Who may reach an object: its owner, and staff (support and moderation). Everyone else gets 404.

Staff may read any user's chats, templates and games; writing into them (a message, an edit, a reset, a move) needs
an explicit permission as well (`chatbot.write_others_chats`, `prompts.write_others_templates`,
`maze.write_others_games`; superusers have every permission), and a message so written is marked with who sent it.
"""

from django.core.exceptions import PermissionDenied


def reachable_by(queryset, user, owner_field: str = "owner"):
    """The part of `queryset` that `user` may open by id.

    Lists stay the user's own (staff browse everything in the admin); this is for lookups by id, where a
    stranger's object must look exactly like a missing one so that ids cannot be probed.
    """
    return queryset.filter(**owner_filter(user, owner_field))


def owner_filter(user, owner_field: str = "owner") -> dict:
    """The equality that limits a lookup by id to what `user` may open: none for staff."""
    return {} if user.is_staff else {f"{owner_field}_id": user.pk}


def check_may_write(user, owner_id: int, permission: str, what: str) -> None:
    """The owner writes; anyone else (staff, who could open it) only with `permission`: else PermissionDenied."""
    if owner_id != user.pk and not user.has_perm(permission):
        raise PermissionDenied(
            f"Staff may read other users' {what} but write into them only with the '{permission}' permission."
        )
