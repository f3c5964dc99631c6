"""The project reaches Django, Channels, daphne, channels-redis, redis-py and paho only through their public
interfaces (so a security release of any of them is an afternoon's upgrade): a scan of the project's own code."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "chatbot", "maze", "health", "accounts", "prompts", "responder", "scripts")
LIBRARIES = r"(django|channels|channels_redis|daphne|paho|redis|twisted|asgiref)"

RULES = {
    "a private name imported from a library": re.compile(rf"from {LIBRARIES}[\w.]* import [^#\n]*\b_[a-z]\w*"),
    "a private attribute of another object": re.compile(r"(?<![\w.])(?!self\b|cls\b)[A-Za-z_]\w*\._[a-z]\w*"),
    "Django's middleware internals": re.compile(r"__acall__|\bMiddlewareMixin\b"),
    "a subclass of a library's internal class": re.compile(
        r"class \w+\((ASGIHandler|WebRequest|RedisSingleShardConnection|RedisPubSubLoopLayer|SQLCompiler)\)"
    ),
    "the ORM's compiler or model state": re.compile(r"get_compiler|get_db_converters|\._state\b"),
    "signals of Django disconnected process-wide": re.compile(r"\.disconnect\((close_old_connections|reset_queries)"),
    "Django's system checks silenced": re.compile(r"SILENCED_SYSTEM_CHECKS"),
}


def project_files():
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_no_module_reaches_into_a_librarys_internals():
    found = []
    for path in project_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if '"""' in line or code.strip().startswith(("'", '"')):
                continue  # prose in docstrings may name what is not done
            for what, rule in RULES.items():
                if rule.search(code):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_looks_for():
    samples = {
        "from channels_redis.utils import _wrap_close": "a private name imported from a library",
        "request._acached_user = user": "a private attribute of another object",
        "class Handler(ASGIHandler):": "a subclass of a library's internal class",
        "row._state.adding = False": "the ORM's compiler or model state",
        "request_started.disconnect(close_old_connections)": "signals of Django disconnected process-wide",
    }
    for code, what in samples.items():
        assert RULES[what].search(code), code
    assert not RULES["a private attribute of another object"].search("self._queue.append(x)")
