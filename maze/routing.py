from django.urls import path

from .consumers import MazeConsumer

websocket_urlpatterns = [
    path("ws/maze/<int:game_id>/", MazeConsumer.as_asgi()),
]
