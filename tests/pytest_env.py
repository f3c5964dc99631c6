"""Loaded with `-p tests.pytest_env` before pytest-django reads the settings: the unit-test environment.

Unit tests run in one process with the in-memory channel layer; integration tests start real processes
and give them their own environment (tests/harness/platform.py), so nothing here leaks into those.
"""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "unit-tests-only")
os.environ["REDIS_URL"] = ""
os.environ.setdefault("LOG_LEVEL", "WARNING")

if os.environ.get("TEST_DATABASE") == "postgres":
    # The unit suite on PostgreSQL: a server of the run's own (pytest-django creates its test database there).
    import atexit

    from tests.harness.postgres import PostgresServer

    _postgres = PostgresServer().start()
    atexit.register(_postgres.stop)
    os.environ["DATABASE_URL"] = _postgres.url
