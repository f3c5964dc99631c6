"""Loaded with `-p tests.pytest_env` before pytest-django reads the settings: the unit-test environment.

Unit tests run in one process with the in-memory channel layer; integration tests start real processes
and give them their own environment (tests/harness/platform.py), so nothing here leaks into those.
"""
import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "unit-tests-only")
os.environ["REDIS_URL"] = ""
os.environ.setdefault("LOG_LEVEL", "WARNING")
