"""The model of LLM mode: an OpenAI-compatible ``/chat/completions`` endpoint (llama.cpp server, vLLM, Ollama),
reached through the maintained ``openai`` client, which brings streaming, retries and timeouts.

Blocking on purpose: calls run on the service's bounded thread pool, never on the MQTT network thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openai

MAX_REASON_CHARS = 200
# Local endpoints take any key, but the client refuses to start without one.
NO_API_KEY = "not-needed"


class LLMError(Exception):
    """The call failed; the message is a short reason fit to show the user after `Error: `."""


def _openai():
    """The openai package, imported on first use: it is slow to import and large in memory, and offline mode
    (which imports this module for LLMError and hint_from_answer) never needs it."""
    import openai

    return openai


def _sampling(temperature: float | None, top_p: float | None, max_tokens: int | None) -> dict:
    # Only what the request sets: an unset value leaves the endpoint's own default in force.
    values = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
    return {key: value for key, value in values.items() if value is not None}


def _detail(body: object) -> str:
    """The message of an error body (`{"message": ...}`, or the body itself when it is text), shortened."""
    if isinstance(body, dict):
        body = body.get("message", "")
    return str(body or "").strip()[:MAX_REASON_CHARS]


def _labelled(label: str, body: object) -> str:
    detail = _detail(body)
    return f"{label}: {detail}" if detail else label


def _delta_of(chunk) -> str:
    """The text a streamed chunk adds; empty for role-only, usage-only and finishing chunks."""
    if not chunk.choices:
        return ""
    delta = chunk.choices[0].delta
    content = getattr(delta, "content", None) if delta is not None else None
    return content if isinstance(content, str) else ""


class LLMClient:
    def __init__(self, base_url: str, *, model: str, api_key: str = "", timeout: float = 60.0, max_retries: int = 2):
        self.model = model
        self.timeout = timeout
        # `timeout` bounds connecting and each read: for a stream, the model's silence between two chunks.
        # Retries (connection errors, 408, 409, 429, 5xx) happen before an answer starts, never part-way.
        self.client: openai.OpenAI = _openai().OpenAI(
            base_url=base_url, api_key=api_key or NO_API_KEY, timeout=timeout, max_retries=max_retries
        )

    def close(self) -> None:
        self.client.close()

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The whole answer, stripped."""
        openai = _openai()
        try:
            completion = self.client.chat.completions.create(
                model=self.model, messages=messages, **_sampling(temperature, top_p, max_tokens)
            )
            content = completion.choices[0].message.content
        except (openai.OpenAIError, ValueError) as error:
            raise LLMError(self._reason(error)) from None
        except (AttributeError, IndexError, TypeError):  # a 200 whose body is no chat completion
            raise LLMError("model endpoint returned an unexpected response") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError("model returned an empty answer")
        return content.strip()

    def stream(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str]:
        """The answer as the model writes it: non-empty pieces that join up to what `complete` would return
        (leading white space is dropped, trailing white space held back until more text follows).

        Raises LLMError, also part-way. Closing the generator (`contextlib.closing`) closes the HTTP stream, which
        tells the endpoint to stop generating.
        """
        openai = _openai()
        started, held = False, ""
        try:
            with self.client.chat.completions.create(
                model=self.model, messages=messages, stream=True, **_sampling(temperature, top_p, max_tokens)
            ) as chunks:
                for chunk in chunks:
                    delta = _delta_of(chunk)
                    if not delta:
                        continue
                    text = held + delta if started else (held + delta).lstrip()
                    body = text.rstrip()
                    held = text[len(body) :]
                    if body:
                        started = True
                        yield body
        except (openai.OpenAIError, ValueError) as error:
            raise LLMError(self._reason(error, part_way=started)) from None
        except (AttributeError, IndexError, TypeError):
            raise LLMError("model endpoint returned an unexpected response") from None
        if not started:
            raise LLMError("model returned an empty answer")

    def _reason(self, error: Exception, part_way: bool = False) -> str:
        openai = _openai()
        if isinstance(error, openai.APITimeoutError):  # before APIConnectionError: it is one
            if part_way:
                return f"model went silent mid-answer for more than {self.timeout:g} s"
            return f"model did not answer within {self.timeout:g} s"
        if isinstance(error, openai.APIConnectionError):
            if part_way:
                return "connection to the model endpoint was lost mid-answer"
            cause = str(error.__cause__ or error).strip()[:MAX_REASON_CHARS]
            return f"cannot reach the model endpoint ({cause})"
        if isinstance(error, openai.RateLimitError):  # before APIStatusError: it is one
            return _labelled("rate limited", error.body)
        if isinstance(error, openai.APIStatusError):
            return _labelled(f"model endpoint answered HTTP {error.status_code}", error.body)
        if isinstance(error, openai.APIError) and not isinstance(error, openai.APIResponseValidationError):
            # An error event inside the stream: the endpoint's own account of what went wrong.
            return _labelled("model failed mid-answer" if part_way else "model failed", error.message)
        return "model endpoint returned an unexpected response"


MAX_JSON_ATTEMPTS = 50


def hint_from_answer(text: str) -> dict | None:
    """The first JSON object with a text `hint` in a model's answer (models wrap JSON in prose or fences)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    for _ in range(MAX_JSON_ATTEMPTS):
        if start < 0:
            return None
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict) and isinstance(value.get("hint"), str) and value["hint"].strip():
            return value
        start = text.find("{", start + 1)
    return None
