"""Who may reach an object: its owner, and staff (support and moderation). Everyone else gets 404."""


def reachable_by(queryset, user, owner_field: str = "owner"):
    """The part of `queryset` that `user` may open by id.

    Lists stay the user's own (staff browse everything in the admin); this is for lookups by id, where a
    stranger's object must look exactly like a missing one so that ids cannot be probed.
    """
    return queryset.filter(**owner_filter(user, owner_field))


def owner_filter(user, owner_field: str = "owner") -> dict:
    """The equality that limits a lookup by id to what `user` may open: none for staff."""
    return {} if user.is_staff else {f"{owner_field}_id": user.pk}
