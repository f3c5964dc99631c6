"""An alias of Django's model backend, so sessions that logged in through the one this project once had (its
path is stored in each session) stay valid after it was retired for Django's own."""

from django.contrib.auth.backends import ModelBackend


class PooledModelBackend(ModelBackend):
    pass
