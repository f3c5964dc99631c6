"""Creating, listing, revoking and checking personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.http import Http404
from django.utils import timezone

from .models import ApiToken

# Every token starts with this, so the bearer middleware can tell a personal token from other bearer
# credentials (such as HEALTH_TOKEN for monitoring) without a database lookup.
TOKEN_PREFIX = "pp_"
MAX_ACTIVE_TOKENS = 20
# last_used_at is refreshed at most this often: a script calling in a loop must not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenLimitReached(Exception):
    pass


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def token_create(*, owner, name: str) -> tuple[ApiToken, str]:
    """A new token and its secret, which is returned this once and never stored."""
    if active_tokens_for_user(user=owner).count() >= MAX_ACTIVE_TOKENS:
        raise TokenLimitReached(f"At most {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(owner=owner, name=name, digest=digest_of(raw), prefix=raw[:10])
    return token, raw


def active_tokens_for_user(*, user):
    return ApiToken.objects.filter(owner=user, revoked_at__isnull=True)


def token_revoke(*, user, token_id: int) -> ApiToken:
    token = active_tokens_for_user(user=user).filter(id=token_id).first()
    if token is None:
        raise Http404("No such API token.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


def user_for_token(raw: str):
    """The active user a token belongs to, or None for an unknown, revoked or inactive-user token."""
    token = ApiToken.objects.select_related("owner").filter(digest=digest_of(raw), revoked_at__isnull=True).first()
    if token is None or not token.owner.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
    return token.owner


def token_json(token: ApiToken) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }
