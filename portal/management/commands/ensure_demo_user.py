"""`python manage.py ensure_demo_user`: create the demo login on first run and print it, and how to create an admin
while there is none (used by scripts/run)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo user (DEMO_USERNAME / DEMO_PASSWORD) if no such user exists, and print the login."

    def handle(self, *args, **options):
        users = get_user_model().objects
        self._demo_user(users)
        if not users.filter(is_superuser=True).exists():
            # Until there is one: organisers need the admin (announcements, users) and /status/.
            self.stdout.write(
                "No admin account yet: create one with `.venv/bin/python manage.py createsuperuser`, then log in "
                "at /admin/."
            )

    def _demo_user(self, users):
        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "")
        if not password:
            self.stdout.write("DEMO_PASSWORD is not set: no demo user created.")
            return
        if not users.filter(username=username).exists():
            users.create_user(username, password=password)
            self.stdout.write(f"Created the demo user {username!r}.")
        self.stdout.write(self.style.SUCCESS(f"Log in as {username} / {password} (from .env)"))
