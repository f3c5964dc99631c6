"""Security headers Django 5.2 does not set by itself."""
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY (empty: none). Pages keep scripts in static/js, so 'self' suffices.

    Async-capable on purpose: one sync-only middleware makes Django run every async view through a
    thread hop, so a waiting chat request would hold a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _add_header(self, response):
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._add_header(self.get_response(request))

    async def __acall__(self, request):
        return self._add_header(await self.get_response(request))
