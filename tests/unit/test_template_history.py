"""Template history (issue 20 item 5): every content change is kept as a version, viewable and restorable.

The rule: a version is written when the CONTENT changes (creation is version 1); a new title, description or
active flag alone makes none, exactly as the template's own `version` counter only counts content changes.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from maze import services as maze_services
from prompts import services
from prompts.models import PromptTemplate, TemplateVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(alice):
    return services.template_create(owner=alice, title="Guide", content="Lead on.")


def history(template):
    return list(template.versions.order_by("version").values_list("version", "title", "content", "restored_from"))


def test_creating_keeps_version_1(template):
    assert history(template) == [(1, "Guide", "Lead on.", None)]


def test_a_version_per_content_change_and_none_for_other_fields(template):
    t = services.template_update(template=template, content="Go east.")
    t = services.template_update(template=t, title="Renamed")  # title only: no version
    t = services.template_update(template=t, description="d", is_active=False)  # no version either
    t = services.template_update(template=t, content="Go east.")  # the same text: no version
    t = services.template_update(template=t, title="Guide 3", content="Go south.")
    assert t.version == 3
    assert history(t) == [
        (1, "Guide", "Lead on.", None),
        (2, "Guide", "Go east.", None),
        (3, "Guide 3", "Go south.", None),
    ]


def test_the_api_patch_and_the_form_both_write_versions(client, alice, template):
    client.force_login(alice)
    response = client.patch(f"/api/templates/{template.id}", {"content": "API text"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["version"] == 2
    form = {"title": "Guide", "description": "", "content": "Form text", "is_active": "on"}
    assert client.post(f"/templates/{template.id}/edit/", form).status_code == 302
    assert [row[2] for row in history(template)] == ["Lead on.", "API text", "Form text"]


def test_restore_saves_the_old_text_as_a_new_version(template):
    t = services.template_update(template=template, title="Guide 2", content="Go east.")
    t = services.template_restore(template=t, version=1)
    assert (t.version, t.title, t.content) == (3, "Guide", "Lead on.")
    assert history(t)[-1] == (3, "Guide", "Lead on.", 1)
    # Restoring what is already current changes nothing.
    assert services.template_restore(template=t, version=3).version == 3
    assert t.versions.count() == 3


def test_history_pages_list_show_and_restore(client, alice, template):
    services.template_update(template=template, content="Second <b>text</b>")
    client.force_login(alice)
    page = client.get(f"/templates/{template.id}/history/").content.decode()
    assert f"/templates/{template.id}/history/1/" in page and f"/templates/{template.id}/history/2/" in page
    current = client.get(f"/templates/{template.id}/history/2/").content.decode()
    assert "Second &lt;b&gt;text&lt;/b&gt;" in current and "Restore this version" not in current
    old = client.get(f"/templates/{template.id}/history/1/").content.decode()
    assert "Lead on." in old and f'action="/templates/{template.id}/history/1/restore/"' in old
    # Restore is a POST (CSRF-protected like every form); a GET changes nothing.
    assert client.get(f"/templates/{template.id}/history/1/restore/").status_code == 405
    response = client.post(f"/templates/{template.id}/history/1/restore/", follow=True)
    assert response.redirect_chain[-1][0] == f"/templates/{template.id}/history/"
    assert "Version 1 restored as version 3." in response.content.decode()
    assert PromptTemplate.objects.get(id=template.id).content == "Lead on."
    assert client.get(f"/templates/{template.id}/history/9/").status_code == 404


def test_restore_needs_the_csrf_token(alice, template):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    services.template_update(template=template, content="Second")
    assert client.post(f"/templates/{template.id}/history/1/restore/").status_code == 403
    assert client.post(f"/api/templates/{template.id}/versions/1/restore").status_code == 403
    assert PromptTemplate.objects.get(id=template.id).version == 2


def test_api_lists_shows_and_restores_versions(client, alice, template):
    services.template_update(template=template, content="Second")
    client.force_login(alice)
    listed = client.get(f"/api/templates/{template.id}/versions").json()
    assert listed["version"] == 2
    assert [(v["version"], v["restored_from"]) for v in listed["versions"]] == [(2, None), (1, None)]
    assert "content" not in listed["versions"][0]
    one = client.get(f"/api/templates/{template.id}/versions/1").json()
    assert (one["version"], one["title"], one["content"]) == (1, "Guide", "Lead on.")
    restored = client.post(f"/api/templates/{template.id}/versions/1/restore").json()
    assert (restored["version"], restored["content"]) == (3, "Lead on.")
    for path in (f"/api/templates/{template.id}/versions/4", f"/api/templates/{template.id}/versions/{10**30}"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["detail"]
    assert client.post(f"/api/templates/{template.id}/versions/{2**63}/restore").status_code == 404
    assert client.get(f"/api/templates/{template.id}/versions/1/restore").status_code == 405


def test_someone_elses_history_is_404_and_restore_changes_nothing(client, bob, template):
    services.template_update(template=template, content="Second")
    client.force_login(bob)
    for path in (
        f"/templates/{template.id}/history/",
        f"/templates/{template.id}/history/1/",
        f"/api/templates/{template.id}/versions",
        f"/api/templates/{template.id}/versions/1",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/templates/{template.id}/history/1/restore/").status_code == 404
    response = client.post(f"/api/templates/{template.id}/versions/1/restore")
    assert response.status_code == 404 and response.json()["detail"]
    assert PromptTemplate.objects.get(id=template.id).version == 2


def test_a_game_names_the_version_it_was_played_with_and_the_history_keeps_its_text(alice, template):
    game, _ = maze_services.game_create(owner=alice, width=11, height=9, germs=1, mode="manual", template=template)
    services.template_update(template=template, content="Changed after the game started.")
    game.refresh_from_db()
    assert game.template_version == 1
    assert services.template_version(template=template, version=game.template_version).content == "Lead on."


def test_a_game_plays_and_shows_the_version_it_started_with_after_an_edit(alice, template):
    game, _ = maze_services.game_create(owner=alice, width=11, height=9, germs=1, mode="manual", template=template)
    services.template_update(template=template, content="Changed after the game started.")
    game.refresh_from_db()
    sent = maze_services.template_for_llm(game)
    assert (sent["content"], sent["version"]) == ("Lead on.", 1)  # the model keeps getting the prompt it started with
    assert maze_services.game_json(game)["template"]["version"] == 1
    template.refresh_from_db()
    maze_services.game_set_template(game=game, template=template)  # switching to it takes the current version
    assert maze_services.template_for_llm(game)["content"] == "Changed after the game started."


def test_the_leaderboard_names_the_version_a_score_was_played_with(alice, template):
    from maze.models import Score

    game, _ = maze_services.game_create(owner=alice, width=11, height=9, germs=1, mode="lam", template=template)
    metrics = dict.fromkeys(("duration_ms", "steps", "shortest_path", "backtracks", "collisions"), 1)
    Score.objects.create(
        user=alice,
        template=template,
        game=game,
        points=900,
        won=True,
        path_efficiency=1.0,
        oxygen_collected=0,
        hint_count=0,
        germ_count=1,
        mode="lam",
        **metrics,
    )
    services.template_update(template=template, content="Edited after the score.")
    [row] = maze_services.leaderboard(template_id=None, page=1)["results"]
    assert row["template"] == {"id": template.id, "title": "Guide", "version": 1}


def test_deleting_a_template_deletes_its_history(template):
    template.delete()
    assert TemplateVersion.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_existing_templates_current_text_as_a_version(django_user_model):
    before, after = [("prompts", "0002_staff_write_permission")], [("prompts", "0003_template_versions")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        user = old_apps.get_model("auth", "User").objects.create(username="old")
        old = old_apps.get_model("prompts", "PromptTemplate").objects.create(
            owner_id=user.id, title="Old", content="Old text", version=4
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    kept = TemplateVersion.objects.get(template_id=old.id)
    assert (kept.version, kept.title, kept.content) == (4, "Old", "Old text")
    assert kept.created_at == PromptTemplate.objects.get(id=old.id).updated_at
