"""Who may reach an object: its owner, and staff (support and moderation). Everyone else gets 404."""


def reachable_by(queryset, user, owner_field: str = "owner"):
    """The part of `queryset` that `user` may open by id.

    Lists stay the user's own (staff browse everything in the admin); this is for lookups by id, where a
    stranger's object must look exactly like a missing one so that ids cannot be probed.
    """
    if user.is_staff:
        return queryset
    return queryset.filter(**{owner_field: user})
