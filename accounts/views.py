"""Account pages the project adds to django.contrib.auth's (login, logout, password change and reset),
and personal API tokens: a page to manage them and a JSON API."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_http_methods

from portal import ratelimit
from portal.api import json_api
from portal.http import json_error, parse_json_object, str_field

from . import announcements, tokens
from .deletion import delete_account
from .forms import DeleteAccountForm, SignupForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("chat")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def home(request):
    return redirect("chat")


# -- account page: password links and API tokens ----------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def account_page(request):
    created_secret, error, status = None, None, 200
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            error, status = "Give the token a name of 1 to 100 characters.", 400
        else:
            try:
                _, created_secret = tokens.token_create(owner=request.user, name=name)
            except tokens.TokenLimitReached as exc:
                error, status = str(exc), 400
    context = {
        "tokens": tokens.active_tokens_for_user(user=request.user),
        "created_secret": created_secret,
        "error": error,
    }
    return render(request, "accounts/account.html", context, status=status)


@login_required
@require_http_methods(["POST"])
def token_revoke_page(request, token_id: int):
    tokens.token_revoke(user=request.user, token_id=token_id)
    return redirect("account")


# -- deleting one's own account -------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def account_delete_page(request):
    form = DeleteAccountForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        user = request.user
        # Logged out first: the logout closes this session's sockets and needs the user as she still is.
        logout(request)
        delete_account(user=user)
        messages.success(request, "Your account and all its data have been deleted.")
        return redirect("login")
    return render(request, "accounts/delete.html", {"form": form}, status=400 if form.errors else 200)


# -- API tokens: JSON ----------------------------------------------------------------------------------------
def _session_only(request):
    # A token may not mint or revoke tokens: one that leaked could otherwise outlive its own revocation.
    if getattr(request, "api_token_user", None) is not None:
        return json_error("Manage API tokens from a logged-in browser session, not with a token.", 403)
    return None


@json_api("GET", "POST")
def api_tokens(request):
    if (refusal := _session_only(request)) is not None:
        return refusal
    if request.method == "POST":
        name = str_field(parse_json_object(request.body), "name", max_length=100, required=True, allow_blank=False)
        try:
            token, secret = tokens.token_create(owner=request.user, name=name)
        except tokens.TokenLimitReached as exc:
            return json_error(str(exc), 400, field="name")
        return JsonResponse({**tokens.token_json(token), "token": secret}, status=201)
    return JsonResponse({"tokens": [tokens.token_json(t) for t in tokens.active_tokens_for_user(user=request.user)]})


@json_api("DELETE")
def api_token(request, token_id: int):
    if (refusal := _session_only(request)) is not None:
        return refusal
    tokens.token_revoke(user=request.user, token_id=token_id)
    return HttpResponse(status=204)


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, with at most PASSWORD_RESET_LIMIT_PER_ADDRESS requests per e-mail address and
    PASSWORD_RESET_LIMIT_PER_CLIENT per client address: past them 429 and no mail (a flood of reset mails is a
    nuisance to its victim and a cost to the sender's mail reputation). The answer never says whether an address
    has an account."""

    def form_valid(self, form):
        address = hashlib.sha256(form.cleaned_data["email"].strip().lower().encode()).hexdigest()[:32]
        waits = (
            ratelimit.retry_after_sync(
                scope="reset-address",
                subject=address,
                limit=ratelimit.Limit.parse(settings.PASSWORD_RESET_LIMIT_PER_ADDRESS),
            ),
            ratelimit.retry_after_sync(
                scope="reset-client",
                subject=self.request.META.get("REMOTE_ADDR", "?"),
                limit=ratelimit.Limit.parse(settings.PASSWORD_RESET_LIMIT_PER_CLIENT),
            ),
        )
        if any(waits):
            response = render(
                self.request,
                "registration/password_reset_throttled.html",
                {"minutes": max(1, -(-max(waits) // 60))},
                status=429,
            )
            response["Retry-After"] = str(max(waits))
            return response
        return super().form_valid(form)


# -- announcements: the banner's JSON, polled by every page --------------------------------------------------
def api_announcements(request):
    """Public (the login page shows them too) and the same for everyone, so it never reads the session: a proxy
    or the browser may keep it, revalidating by ETag (304 while nothing changed). `poll_after` sets the pages'
    cadence from the server, so organisers can slow them down without a new script."""
    if request.method not in ("GET", "HEAD"):
        refusal = json_error(f"Method {request.method} is not allowed here.", 405)
        refusal["Allow"] = "GET, HEAD"
        return refusal
    response = JsonResponse(
        {
            "announcements": announcements.active_announcements_json(),
            "poll_after": settings.ANNOUNCEMENT_POLL_INTERVAL,
        }
    )
    response["Cache-Control"] = "no-cache"
    response["ETag"] = quote_etag(hashlib.sha256(response.content).hexdigest()[:32])
    return get_conditional_response(request, etag=response["ETag"], response=response)
