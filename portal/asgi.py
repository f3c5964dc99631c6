"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()  # first: it sets Django up before anything imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from portal.asgi_headers import SecurityHeaders  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.ws_origin import SameOriginValidator  # noqa: E402

# Static files bypass Django's middleware: the same security headers are added to them here.
http_app = SecurityHeaders(ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Browsers always send Origin on WebSockets: one that is not the portal's own is a cross-site attempt.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
