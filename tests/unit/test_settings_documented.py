"""Every environment variable the code reads is listed in .env.example and described in docs/operations.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_READ = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def _documented_in(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", path.read_text(), re.M))


def test_every_setting_is_in_env_example_and_readme():
    read = set(ENV_READ.findall((ROOT / "portal" / "settings.py").read_text()))
    assert {"SECRET_KEY", "DATABASE_URL", "MQTT_CLIENT_ID", "CHAT_REPLY_TIMEOUT"} <= read
    example = _documented_in(ROOT / ".env.example")
    assert read - example == set(), "missing from .env.example"
    described = (ROOT / "docs" / "operations.md").read_text()
    assert {name for name in example if f"`{name}`" not in described} == set(), "missing from docs/operations.md"
