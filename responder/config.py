"""Settings of the responder: command-line flags whose defaults come from the environment.

Every flag falls back to its environment variable, which falls back to the PROTOCOL.md default, so the service
runs unconfigured next to a local broker and a deployment configures it with environment variables only.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .topics import CHAT_PROJECT, MAZE_PROJECT, base_of

KNOWN_PROJECTS = (MAZE_PROJECT, CHAT_PROJECT)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _projects(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(text.replace(",", " ").split()))
    if not names:
        raise argparse.ArgumentTypeError("at least one project is needed")
    unknown = [n for n in names if n not in KNOWN_PROJECTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown project(s) {', '.join(unknown)}; known: {', '.join(KNOWN_PROJECTS)}")
    return names


_TRUE, _FALSE = ("1", "true", "yes", "on", "y", "ok"), ("0", "false", "no", "off", "n")


def _boolean(text: str) -> bool:
    # The same spellings django-environ accepts, so one .env file means the same to the worker and the responder.
    value = text.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise argparse.ArgumentTypeError(f"expected true or false: {text!r}")


def _readable_file(text: str) -> str:
    # Checked at start: a wrong path is a configuration error, not something to retry on every reconnect.
    if text and not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read file: {text!r}")
    return text


def _log_level(text: str) -> str:
    name = text.strip().upper()
    if not isinstance(logging.getLevelName(name), int):
        raise argparse.ArgumentTypeError(f"unknown log level: {text!r}")
    return name


def _topic(text: str) -> str:
    if not text or "#" in text or "+" in text:
        raise argparse.ArgumentTypeError(f"not a plain topic (no wildcards): {text!r}")
    return text.rstrip("/")


def _hint_topic(text: str) -> str:
    if not base_of(text) or "#" in base_of(text) or "+" in base_of(text):
        raise argparse.ArgumentTypeError(f"expected a hint topic like 'maze/hint/+': {text!r}")
    return text


# (flag, environment variable(s), default, type, help). A default of None means "unset". With several variables
# the first non-empty one wins: RESPONDER_MQTT_* let the responder use its own broker identity when it shares an
# environment file with the worker (whose MQTT_USERNAME the broker's ACL grants the opposite rights).
_OPTIONS = (
    ("--broker-host", "MQTT_BROKER_HOST", "127.0.0.1", str, "MQTT broker host"),
    ("--broker-port", "MQTT_BROKER_PORT", "1883", _port, "MQTT broker port"),
    ("--username", ("RESPONDER_MQTT_USERNAME", "MQTT_USERNAME"), None, str, "MQTT user name (optional)"),
    ("--password", ("RESPONDER_MQTT_PASSWORD", "MQTT_PASSWORD"), None, str, "MQTT password (optional)"),
    (
        "--tls",
        "MQTT_TLS",
        "false",
        _boolean,
        "connect with TLS (true/false); the broker's certificate and host name are always verified",
    ),
    ("--tls-ca-file", "MQTT_TLS_CA_FILE", "", _readable_file, "CA bundle for the broker; empty = the system's CAs"),
    (
        "--tls-cert-file",
        ("RESPONDER_MQTT_TLS_CERT_FILE", "MQTT_TLS_CERT_FILE"),
        "",
        _readable_file,
        "client certificate (PEM), for brokers that require one",
    ),
    (
        "--tls-key-file",
        ("RESPONDER_MQTT_TLS_KEY_FILE", "MQTT_TLS_KEY_FILE"),
        "",
        _readable_file,
        "its private key (PEM); empty when it is in the certificate file",
    ),
    ("--topic-user-input", "MQTT_TOPIC_USER_INPUT", "prompt_portal/user_input", _topic, "chat requests"),
    (
        "--topic-assistant-response",
        "MQTT_TOPIC_ASSISTANT_RESPONSE",
        "prompt_portal/assistant_response",
        _topic,
        "base topic of chat replies",
    ),
    (
        "--topic-cancel",
        "MQTT_TOPIC_CANCEL",
        "prompt_portal/cancel",
        _topic,
        "cancels of streamed chat answers (the portal's Stop button)",
    ),
    ("--topic-state", "MQTT_TOPIC_STATE", "maze/state", _topic, "maze game states"),
    (
        "--topic-hint",
        "MQTT_TOPIC_HINT",
        "maze/hint/+",
        _hint_topic,
        "maze hints; the hint base is this without the trailing '/+'",
    ),
    (
        "--topic-template",
        "MQTT_TOPIC_TEMPLATE",
        "maze/template",
        _topic,
        "maze template updates (also <topic>/<sessionId>)",
    ),
    ("--client-id", "RESPONDER_CLIENT_ID", "llm_responder", str, "stable MQTT client id"),
    (
        "--projects",
        "RESPONDER_PROJECTS",
        "maze prompt_portal",
        _projects,
        "projects served (space or comma separated; the first names the status topic)",
    ),
    ("--status-topic", "RESPONDER_STATUS_TOPIC", None, _topic, "status topic (default: <first project>/status)"),
    ("--status-interval", "RESPONDER_STATUS_INTERVAL", "30", _positive_float, "seconds between online heartbeats"),
    (
        "--delay",
        "RESPONDER_DELAY",
        "0",
        _non_negative_float,
        "artificial delay in seconds before each reply (simulates a slow LLM)",
    ),
    (
        "--stream-rate",
        "RESPONDER_STREAM_RATE",
        "30",
        _non_negative_float,
        "offline mode: tokens per second of a streamed answer; 0 = no chunks, the final reply only "
        "(LLM mode streams as fast as the model writes)",
    ),
    (
        "--llm-base-url",
        "LLM_BASE_URL",
        "",
        str,
        "OpenAI-compatible endpoint including /v1, e.g. http://127.0.0.1:8080/v1; empty = offline mode",
    ),
    ("--llm-api-key", "LLM_API_KEY", "", str, "bearer token for the LLM endpoint (optional)"),
    ("--llm-model", "LLM_MODEL", "default", str, "model name sent to the LLM endpoint"),
    (
        "--llm-timeout",
        "LLM_TIMEOUT",
        "60",
        _positive_float,
        "seconds the LLM endpoint may take to connect or to send more (for a stream: between two chunks)",
    ),
    (
        "--llm-max-retries",
        "LLM_MAX_RETRIES",
        "2",
        _non_negative_int,
        "retries of a failed LLM call (connection errors, HTTP 408, 409, 429, 5xx) before the answer starts",
    ),
    ("--history-turns", "RESPONDER_HISTORY_TURNS", "6", _positive_int, "conversation turns remembered per session"),
    ("--max-concurrency", "RESPONDER_MAX_CONCURRENCY", "16", _positive_int, "parallel calls to the LLM endpoint"),
    ("--log-level", "LOG_LEVEL", "INFO", _log_level, "logging level"),
)


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m responder",
        description="Prompt Portal's reference LLM service: answers chat requests and maze states over MQTT "
        "(PROTOCOL.md), from an OpenAI-compatible endpoint or, without LLM_BASE_URL, offline.",
        epilog="Every flag defaults to the environment variable shown in brackets. Offline test hooks (a chat "
        "message's prefix): !error, !overload, !noreply, !sleep <s>; for streamed answers !stall <s>, !partial, "
        "!streamfail, !dupchunks, !shufflechunks, !dropchunks (python -m pydoc responder says what each does).",
    )
    for flag, env_names, default, kind, text in _OPTIONS:
        env_names = (env_names,) if isinstance(env_names, str) else env_names
        shown = "unset" if default is None else repr(default)
        # An empty variable means "not set", as in .env files that list every variable (django-environ agrees).
        env_name = next((name for name in env_names if environ.get(name, "") != ""), None)
        if env_name is not None:
            default = environ[env_name]
            try:
                kind(default)
            except argparse.ArgumentTypeError as error:
                parser.error(f"environment variable {env_name}: {error}")
        # argparse also runs string defaults through `type`, so Settings always hold converted values.
        parser.add_argument(
            flag, default=default, type=kind, help=f"{text} [{' or '.join(env_names)}, default {shown}]"
        )
    return parser


@dataclass(frozen=True)
class Settings:
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    topic_user_input: str = "prompt_portal/user_input"
    topic_assistant_response: str = "prompt_portal/assistant_response"
    topic_cancel: str = "prompt_portal/cancel"
    topic_state: str = "maze/state"
    topic_hint: str = "maze/hint/+"
    topic_template: str = "maze/template"
    client_id: str = "llm_responder"
    projects: tuple[str, ...] = (MAZE_PROJECT, CHAT_PROJECT)
    status_topic: str = "maze/status"
    status_interval: float = 30.0
    delay: float = 0.0
    stream_rate: float = 30.0
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "default"
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    history_turns: int = 6
    max_concurrency: int = 16
    log_level: str = "INFO"

    @property
    def hint_base(self) -> str:
        return base_of(self.topic_hint)

    @property
    def offline(self) -> bool:
        return not self.llm_base_url

    @classmethod
    def from_env_and_args(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        args = build_parser(environ).parse_args(argv)
        values = {name: getattr(args, name) for name in cls.__dataclass_fields__ if hasattr(args, name)}
        values["username"] = args.username or None
        values["password"] = args.password or None
        values["llm_base_url"] = args.llm_base_url.strip().rstrip("/")
        values["status_topic"] = args.status_topic or f"{args.projects[0]}/status"
        return cls(**values)
