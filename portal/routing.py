"""WebSocket routes: assembled from what the apps export."""
from chatbot.routing import websocket_urlpatterns as chat_routes
from maze.routing import websocket_urlpatterns as maze_routes

websocket_urlpatterns = [*chat_routes, *maze_routes]
