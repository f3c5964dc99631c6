"""Django's model backend, with the per-request user lookup of async views on the shared database pool.

Under ASGI, Django runs `aget_user`'s query on a new thread per request, which opens (and closes) a database
connection every time; `run_db` runs it on the pool threads that keep theirs (portal/db.py).
"""
from django.contrib.auth.backends import ModelBackend

from portal.db import run_db


class PooledModelBackend(ModelBackend):
    async def aget_user(self, user_id):
        return await run_db(self.get_user, user_id)
