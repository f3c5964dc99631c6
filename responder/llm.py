"""A minimal client for an OpenAI-compatible `/chat/completions` endpoint (llama.cpp server, vLLM, Ollama).

Blocking on purpose: calls run on the service's bounded thread pool, never on the MQTT network thread.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_REASON_CHARS = 200


class LLMError(Exception):
    """The call failed; the message is a short reason fit to show the user after `Error: `."""


def _http_reason(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read(64 * 1024) or b"{}")
        detail = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(detail, dict):
            detail = detail.get("message", "")
    except (ValueError, OSError):
        detail = ""
    label = "rate limited" if error.code == 429 else f"model endpoint answered HTTP {error.code}"
    detail = str(detail).strip()[:MAX_REASON_CHARS]
    return f"{label}: {detail}" if detail else label


class LLMClient:
    def __init__(self, base_url: str, *, model: str, api_key: str = "", timeout: float = 60.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        body: dict = {"model": self.model, "messages": messages}
        for key, value in (("temperature", temperature), ("top_p", top_p), ("max_tokens", max_tokens)):
            if value is not None:
                body[key] = value
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise LLMError(_http_reason(error)) from None
        except TimeoutError:
            raise LLMError(f"model did not answer within {self.timeout:g} s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise LLMError(f"model did not answer within {self.timeout:g} s") from None
            raise LLMError(f"cannot reach the model endpoint ({error.reason})") from None
        except (OSError, http.client.HTTPException) as error:
            raise LLMError(f"connection to the model endpoint failed ({error})") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise LLMError("model response too large")
        return _content(raw)


def _content(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError("model endpoint returned an unexpected response") from None
    if not isinstance(content, str) or not content.strip():
        raise LLMError("model returned an empty answer")
    return content.strip()


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
