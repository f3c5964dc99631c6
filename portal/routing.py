"""WebSocket routes: assembled from what the apps export."""

from django.urls import re_path

from chatbot.routing import websocket_urlpatterns as chat_routes
from maze.routing import websocket_urlpatterns as maze_routes
from portal.consumers import NotFoundConsumer

# Last: any other path is answered with close code 4404 (the router alone would fail the handshake with a 500).
websocket_urlpatterns = [*chat_routes, *maze_routes, re_path(r"", NotFoundConsumer.as_asgi())]
