from django.apps import AppConfig


class MazeConfig(AppConfig):
    name = "maze"
