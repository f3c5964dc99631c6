import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs ~0.3 s a user on this machine; unit tests create hundreds. Integration tests, which
    # run the real processes, keep the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123456")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob-123456")


@pytest.fixture
def session(django_user_model):
    """A chat session of a user "alice" (the general preset)."""
    from chatbot import services

    owner = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    return services.session_create(owner=owner, preset="general")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, a database file as in production (WAL, IMMEDIATE transactions, a busy timeout), not Django's
    default in-memory test database, whose shared cache answers "table is locked" at once where a file's writers
    queue: sockets of one game changing its play together (maze/services.play_change) must queue, as they do."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "unit.sqlite3")
