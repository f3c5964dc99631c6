"""Fixtures that start the real platform. Each module gets its own processes on its own ports."""

import shutil

import pytest

from tests.harness.platform import Platform

for binary in ("mosquitto", "redis-server"):
    if shutil.which(binary) is None:
        raise RuntimeError(f"{binary} is not installed: run the README's test command, which installs it")


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request):
    """The whole platform: broker, Redis, daphne, one worker and the offline responder."""
    overrides = getattr(request.module, "PLATFORM_ENV", {})
    p = Platform(tmp_path_factory.mktemp("platform"), **overrides)
    try:
        p.start_all()
        p.create_users("alice", "bob")
        yield p
    finally:
        p.stop_all()


@pytest.fixture(autouse=True)
def _dump_logs_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "platform" in request.fixturenames:
        print(request.getfixturevalue("platform").logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
