"""SESSION_ENGINE: Django's database sessions, read by async views on the shared database pool.

The session row is read on every authenticated request; Django's own async read runs on a new thread per
request with a new database connection, `run_db` on the pool threads that keep theirs (portal/db.py).
The read skips the ORM's query compiler (portal/fast_lookup.py). Writes (login, logout) stay Django's.
"""
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from portal.db import run_db
from portal.fast_lookup import get_row


class SessionStore(DatabaseSessionStore):
    async def aload(self):
        return await run_db(self.load)

    def _get_session_from_db(self):
        """Django's read (the unexpired row with this key, else forget the key), by primary key."""
        row = get_row(self.model, session_key=self.session_key) if self.session_key else None
        if row is None or row.expire_date <= timezone.now():
            self._session_key = None
            return None
        return row
