"""URL routes: assembled from what the apps export."""
from django.contrib import admin
from django.urls import include, path

from accounts.urls import api_urlpatterns as tokens_api, page_urlpatterns as account_pages
from accounts.views import home
from chatbot.urls import api_urlpatterns as chat_api, page_urlpatterns as chat_pages
from health.urls import urlpatterns as health_urls
from maze.urls import api_urlpatterns as maze_api, page_urlpatterns as maze_pages
from prompts.urls import api_urlpatterns as templates_api, page_urlpatterns as templates_pages

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include(account_pages)),
    path("api/tokens/", include(tokens_api)),
    path("chat/", include(chat_pages)),
    path("api/chatbot/", include(chat_api)),
    path("templates/", include(templates_pages)),
    path("api/templates/", include(templates_api)),
    path("api/", include(maze_api)),
    path("", include(maze_pages)),
    path("", include(health_urls)),
]
