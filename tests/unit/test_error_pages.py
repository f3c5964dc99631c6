"""Styled 404/403/500 pages for people, JSON for the API (portal/error_pages.py), and the run command's DEBUG off
(with DEBUG on, Django would show its debug page instead)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from portal import error_pages
from prompts import services as prompt_services

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def styled(response, code: int) -> str:
    html = response.content.decode()
    assert response.status_code == code
    assert f'<p class="error-code">{code}</p>' in html and "/static/css/portal.css" in html
    assert "Traceback" not in html and "URLconf" not in html  # never Django's debug page
    return html


def test_a_missing_page_is_the_styled_404_and_a_missing_api_path_json(client, django_user_model):
    html = styled(client.get("/status/nonexistent"), 404)
    assert "/status/nonexistent" in html
    response = client.get("/api/nonexistent")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


@pytest.mark.django_db(transaction=True)  # the async view reads the session on another thread's connection
def test_status_is_the_styled_404_for_a_non_staff_user(client, django_user_model):
    # Not 403: the page's existence is not advertised to non-staff (health/views.py).
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    html = styled(client.get("/status/"), 404)
    assert 'href="/accounts/profile/"' in html  # the full navigation, as the user's own


def test_staff_without_the_permission_get_the_styled_403_on_pages_and_json_on_the_api(client, django_user_model):
    owner = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    template = prompt_services.template_create(owner=owner, title="Alice's", content="Lead me out.")
    staff = django_user_model.objects.create_user("sam", password="pw-sam-123456", is_staff=True)
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    html = styled(client.get(f"/templates/{template.id}/edit/"), 403)
    assert "prompts.write_others_templates" in html  # says why
    api = client.patch(f"/api/templates/{template.id}", {"title": "x"}, content_type="application/json")
    assert api.status_code == 403 and "detail" in api.json()


def test_a_server_error_is_the_styled_500_and_json_on_the_api():
    factory = RequestFactory()
    styled(error_pages.server_error(factory.get("/chat/")), 500)
    response = error_pages.server_error(factory.get("/api/chatbot/sessions"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert b'"detail"' in response.content


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sed") is None, reason="needs bash and sed")
def test_the_run_command_writes_debug_off_into_a_new_env(tmp_path):
    """scripts/run in a copy of the project, with its helpers stubbed: the .env it writes on first start."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run", tmp_path / "scripts" / "run")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    (tmp_path / "scripts" / "bootstrap.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "scripts" / "bootstrap.sh").chmod(0o755)
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    # Token generation runs Python for real; migrate, ensure_demo_user and launch.py are not this test's business.
    (venv_bin / "python").write_text(
        f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi\necho "stub python $*"\n'
    )
    (venv_bin / "python").chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    written = (tmp_path / ".env").read_text()
    assert "\nDEBUG=false\n" in written and "SECRET_KEY=change-me" not in written
    assert "DEBUG is on" not in result.stdout
    # An older .env that still has DEBUG on is pointed out.
    (tmp_path / ".env").write_text(written.replace("DEBUG=false", "DEBUG=true"))
    again = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert "DEBUG is on in .env" in again.stdout
