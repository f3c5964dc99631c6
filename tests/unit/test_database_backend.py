"""The suite runs on the database it was asked for (scripts/test runs it on SQLite and on PostgreSQL)."""

import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_requested_database_is_the_one_in_use():
    wanted = "postgresql" if os.environ.get("TEST_DATABASE") == "postgres" else "sqlite"
    assert connection.vendor == wanted
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
