"""URL routes: assembled from what the apps export."""

from django.contrib import admin
from django.urls import include, path

from accounts.urls import api_urlpatterns as tokens_api
from accounts.urls import page_urlpatterns as account_pages
from accounts.views import api_announcements, home
from chatbot.urls import api_urlpatterns as chat_api
from chatbot.urls import page_urlpatterns as chat_pages
from health.urls import urlpatterns as health_urls
from maze.urls import api_urlpatterns as maze_api
from maze.urls import page_urlpatterns as maze_pages
from prompts.urls import api_urlpatterns as templates_api
from prompts.urls import page_urlpatterns as templates_pages

# Django tries these in order on every request, and resolving costs a few microseconds per pattern tried: the chat
# API, most of all traffic, comes first (no pattern before it could match its paths).
urlpatterns = [
    path("api/chatbot/", include(chat_api)),
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include(account_pages)),
    path("api/tokens/", include(tokens_api)),
    path("api/announcements", api_announcements, name="api-announcements"),
    path("chat/", include(chat_pages)),
    path("templates/", include(templates_pages)),
    path("api/templates/", include(templates_api)),
    path("api/", include(maze_api)),
    path("", include(maze_pages)),
    path("", include(health_urls)),
]

# Styled pages for people, JSON for the API (portal/error_pages.py); with DEBUG on, Django shows its debug page for
# a 404 or a 500 instead.
handler403 = "portal.error_pages.permission_denied"
handler404 = "portal.error_pages.not_found"
handler500 = "portal.error_pages.server_error"
