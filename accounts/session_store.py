"""SESSION_ENGINE: Django's database sessions, read by async views on the shared database pool.

The session row is read on every authenticated request; Django's own async read runs on a new thread per
request with a new database connection, `run_db` on the pool threads that keep theirs (portal/db.py).
Writes (login, logout) stay Django's.
"""
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from portal.db import run_db


class SessionStore(DatabaseSessionStore):
    async def aload(self):
        return await run_db(self.load)
