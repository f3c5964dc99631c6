"""handler404/403/500 (portal/urls.py): the JSON API keeps answering JSON with a `detail`, pages get the styled
templates/404.html, 403.html and 500.html through Django's own default views.

Django uses these only with DEBUG off; with DEBUG on it shows its debug page for a 404 and a 500, listing the URL
patterns and settings. That is why scripts/run writes DEBUG=false (static files do not need DEBUG: daphne serves
them through staticfiles' ASGIStaticFilesHandler, portal/asgi.py).
"""

from django.views import defaults

from .http import json_error


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception):
    if _is_api(request):
        return json_error("Not found.", 404)
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return json_error(str(exception) or "You are not allowed to do that.", 403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    if _is_api(request):
        return json_error("Server error: it has been logged.", 500)
    return defaults.server_error(request)
