"""Security headers Django 5.2 does not set by itself."""

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware


@sync_and_async_middleware
def ContentSecurityPolicyMiddleware(get_response):  # noqa: N802 - a middleware factory, named like a class
    """Adds settings.CONTENT_SECURITY_POLICY (empty: none). Pages keep scripts in static/js, so 'self' suffices.

    Both modes (Django's documented form): a sync-only middleware would make Django run every async view through
    a thread hop.
    """
    policy = settings.CONTENT_SECURITY_POLICY

    def add_header(response):
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return add_header(await get_response(request))

    else:

        def middleware(request):
            return add_header(get_response(request))

    return middleware
