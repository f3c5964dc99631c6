from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Prompt Portal core"

    def ready(self):
        from django.core.signals import request_started
        from django.db import close_old_connections, reset_queries

        from . import checks  # noqa: F401 - registers the deploy checks of the subclassed security middleware

        # Both act on the database connections of the thread they run on. Under ASGI (daphne is the only server
        # here) each request's sync code runs on a thread of that request's own, new at its start, so at
        # request start there is nothing to reset or close -- but running them is what creates that thread, and
        # it then stays alive, idle, for as long as the request waits for the LLM. Connections that sync views
        # open are still closed at request end (request_finished keeps close_old_connections), and async code
        # uses portal.db.run_db, whose threads manage their own.
        request_started.disconnect(close_old_connections)
        request_started.disconnect(reset_queries)
