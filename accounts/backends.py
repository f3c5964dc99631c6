"""Django's model backend, with the per-request user lookup of async views on the shared database pool.

Under ASGI, Django runs `aget_user`'s query on a new thread per request, which opens (and closes) a database
connection every time; `run_db` runs it on the pool threads that keep theirs (portal/db.py). The lookup itself
skips the ORM's query compiler (portal/fast_lookup.py): it runs on every authenticated request.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from portal.db import run_db
from portal.fast_lookup import get_row


class PooledModelBackend(ModelBackend):
    def get_user(self, user_id):
        user = get_row(get_user_model(), pk=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    async def aget_user(self, user_id):
        return await run_db(self.get_user, user_id)
