"""Small JSON helpers every API view shares: one error shape, one body parser."""

from __future__ import annotations

import json
from typing import Any

from django.http import JsonResponse

MAX_JSON_BODY_BYTES = 64 * 1024


class InvalidInput(Exception):
    """A client error that becomes a 4xx JSON answer naming the field at fault."""

    def __init__(self, detail: str, *, field: str | None = None, status: int = 400):
        super().__init__(detail)
        self.detail, self.field, self.status = detail, field, status


def json_error(detail: str, status: int, **extra: Any) -> JsonResponse:
    response = JsonResponse({"detail": detail, **extra}, status=status)
    if "retry_after" in extra:
        response["Retry-After"] = str(extra["retry_after"])
    return response


def invalid_input_response(exc: InvalidInput) -> JsonResponse:
    extra = {"field": exc.field} if exc.field else {}
    return json_error(exc.detail, exc.status, **extra)


def parse_json_object(body: bytes, max_bytes: int = MAX_JSON_BODY_BYTES) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise InvalidInput(f"Request body is larger than {max_bytes} bytes.", status=413)
    if not body.strip():
        raise InvalidInput("Request body must be a JSON object.")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise InvalidInput("Request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidInput("Request body must be a JSON object.")
    return value


# -- field validators: each returns the clean value or raises InvalidInput naming the field --------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_field(data: dict, name: str, *, low: float, high: float, required: bool = False) -> float | None:
    if name not in data or data[name] is None:
        if required:
            raise InvalidInput(f"'{name}' is required.", field=name)
        return None
    value = data[name]
    if not _is_number(value) or value != value or not (low <= value <= high):
        raise InvalidInput(f"'{name}' must be a number from {low} to {high}.", field=name)
    return float(value)


def int_field(data: dict, name: str, *, low: int, high: int, required: bool = False) -> int | None:
    if name not in data or data[name] is None:
        if required:
            raise InvalidInput(f"'{name}' is required.", field=name)
        return None
    value = data[name]
    if isinstance(value, str) and value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to int()
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not (low <= value <= high):
        raise InvalidInput(f"'{name}' must be a whole number from {low} to {high}.", field=name)
    return value


def str_field(
    data: dict, name: str, *, max_length: int, required: bool = False, allow_blank: bool = True, strip: bool = True
) -> str | None:
    if name not in data or data[name] is None:
        if required:
            raise InvalidInput(f"'{name}' is required.", field=name)
        return None
    value = data[name]
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be a string.", field=name)
    if strip:
        value = value.strip()
    if not allow_blank and not value:
        raise InvalidInput(f"'{name}' must not be empty.", field=name)
    if len(value) > max_length:
        raise InvalidInput(f"'{name}' must be at most {max_length} characters.", field=name)
    if "\x00" in value:
        # PostgreSQL cannot store it (SQLite can): refuse it the same way on both.
        raise InvalidInput(f"'{name}' must not contain NUL characters.", field=name)
    if not is_encodable(value):
        raise InvalidInput(f"'{name}' must be valid text (it contains a lone surrogate, \\ud800-\\udfff).", field=name)
    return value


def is_encodable(text: str) -> bool:
    """Can it be stored and sent as UTF-8? JSON's \\ud800 escapes decode to lone surrogates, which cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
