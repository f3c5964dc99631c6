from django.urls import path

from . import evaluation_views, views

page_urlpatterns = [
    path("maze/", views.play_page, name="maze"),
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
    path("maze/evaluations/", evaluation_views.evaluations_page, name="maze-evaluations"),
    path("maze/evaluations/compare/", evaluation_views.compare_page, name="maze-evaluation-compare"),
    path("maze/evaluations/<int:evaluation_id>/", evaluation_views.evaluation_page, name="maze-evaluation"),
]

api_urlpatterns = [
    path("maze/games", views.games, name="maze-games"),
    path("maze/games/<int:game_id>", views.game_detail, name="maze-game"),
    path("maze/games/<int:game_id>/finish", views.game_finish, name="maze-game-finish"),
    path("maze/last_hint", views.last_hint, name="maze-last-hint"),
    path("leaderboard/", views.leaderboard, name="api-leaderboard"),
    path("maze/evaluations", evaluation_views.api_evaluations, name="api-maze-evaluations"),
    path("maze/evaluations/compare", evaluation_views.api_evaluation_compare, name="api-maze-evaluation-compare"),
    path("maze/evaluations/<int:evaluation_id>", evaluation_views.api_evaluation, name="api-maze-evaluation"),
    path(
        "maze/evaluations/<int:evaluation_id>/cancel",
        evaluation_views.api_evaluation_cancel,
        name="api-maze-evaluation-cancel",
    ),
]
