"""Running ORM code from async views and consumers without holding a connection while they wait."""
from asgiref.sync import sync_to_async
from django.db import close_old_connections


def _in_pool(func, args, kwargs):
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


async def run_db(func, *args, **kwargs):
    """Run `func(*args, **kwargs)` on the shared, bounded thread pool rather than a per-request thread.

    Connections then live only in those few pool threads: a request that waits 45 s for the LLM holds no
    thread and no database connection while it waits (the earlier platform exhausted its pool that way).
    """
    return await sync_to_async(_in_pool, thread_sensitive=False)(func, args, kwargs)
