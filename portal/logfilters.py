"""Logging filters."""

import logging


class DeliberateUnavailableFilter(logging.Filter):
    """Drop django.request's ERROR lines for the 503/504 answers the platform gives on purpose.

    Those are outcomes the worker already logs once with their cause; a health probe answering 503 every
    few seconds would otherwise bury real 500s.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) not in (503, 504)
