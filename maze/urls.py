from django.urls import path

from . import views

page_urlpatterns = [
    path("maze/", views.play_page, name="maze"),
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
]

api_urlpatterns = [
    path("maze/games", views.games, name="maze-games"),
    path("maze/games/<int:game_id>", views.game_detail, name="maze-game"),
    path("maze/games/<int:game_id>/finish", views.game_finish, name="maze-game-finish"),
    path("maze/last_hint", views.last_hint, name="maze-last-hint"),
    path("leaderboard/", views.leaderboard, name="api-leaderboard"),
]
