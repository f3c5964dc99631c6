"""Who may read the detailed health data: staff (session) or a monitoring system with HEALTH_TOKEN."""

import hmac

from django.conf import settings


def may_read_details(request, user) -> bool:
    if user.is_authenticated and user.is_staff:
        return True
    token = settings.HEALTH["TOKEN"]
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)
