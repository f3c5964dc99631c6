import pytest

from responder.config import Settings


def test_defaults_follow_the_protocol():
    s = Settings.from_env_and_args([], {})
    assert (s.broker_host, s.broker_port, s.username, s.password) == ("127.0.0.1", 1883, None, None)
    assert (s.topic_user_input, s.topic_assistant_response, s.topic_state, s.topic_hint, s.topic_template) == (
        "prompt_portal/user_input",
        "prompt_portal/assistant_response",
        "maze/state",
        "maze/hint/+",
        "maze/template",
    )
    assert s.hint_base == "maze/hint"
    assert (s.topic_cancel, s.stream_rate, s.llm_max_retries) == ("prompt_portal/cancel", 30, 2)
    assert (s.client_id, s.projects, s.status_topic, s.status_interval) == (
        "llm_responder",
        ("maze", "prompt_portal"),
        "maze/status",
        30,
    )
    assert (s.delay, s.offline, s.llm_model, s.llm_timeout, s.history_turns, s.max_concurrency, s.log_level) == (
        0,
        True,
        "default",
        60,
        6,
        16,
        "INFO",
    )


def test_environment_sets_defaults_and_flags_win():
    env = {
        "MQTT_BROKER_PORT": "1999",
        "RESPONDER_PROJECTS": "prompt_portal",
        "RESPONDER_DELAY": "0.5",
        "LLM_BASE_URL": "http://127.0.0.1:8080/v1/",
        "LOG_LEVEL": "debug",
        "MQTT_TOPIC_CANCEL": "portal/stop",
        "RESPONDER_STREAM_RATE": "0",
        "LLM_MAX_RETRIES": "0",
    }
    s = Settings.from_env_and_args(["--broker-port", "2000", "--stream-rate", "12.5"], env)
    assert s.broker_port == 2000 and s.delay == 0.5 and s.log_level == "DEBUG"
    assert (s.topic_cancel, s.stream_rate, s.llm_max_retries) == ("portal/stop", 12.5, 0)
    assert Settings.from_env_and_args([], env).stream_rate == 0  # 0: no chunks, the final reply only
    assert s.status_topic == "prompt_portal/status" and not s.offline
    assert s.llm_base_url == "http://127.0.0.1:8080/v1"


@pytest.mark.parametrize(
    "env",
    [
        {"MQTT_BROKER_PORT": "abc"},
        {"RESPONDER_DELAY": "-1"},
        {"RESPONDER_PROJECTS": "chess"},
        {"MQTT_TOPIC_STATE": "maze/#"},
        {"RESPONDER_MAX_CONCURRENCY": "0"},
        {"LOG_LEVEL": "LOUD"},
        {"RESPONDER_STREAM_RATE": "-1"},
        {"RESPONDER_STREAM_RATE": "nan"},
        {"LLM_MAX_RETRIES": "-1"},
        {"MQTT_TOPIC_CANCEL": "prompt_portal/+"},
    ],
)
def test_bad_environment_values_stop_the_program(env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        Settings.from_env_and_args([], env)
    assert exit_info.value.code == 2
    assert next(iter(env)) in capsys.readouterr().err


def test_empty_environment_variables_count_as_unset():
    from responder.config import Settings

    settings = Settings.from_env_and_args(
        [], {"RESPONDER_STATUS_TOPIC": "", "MQTT_BROKER_PORT": "", "LLM_BASE_URL": ""}
    )
    assert settings.status_topic == "maze/status"
    assert settings.broker_port == 1883
