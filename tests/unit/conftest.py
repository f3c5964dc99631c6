import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs ~0.3 s a user on this machine; unit tests create hundreds. Integration tests, which
    # run the real processes, keep the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def session(django_user_model):
    """A chat session of a user "alice" (the general preset)."""
    from chatbot import services

    owner = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    return services.session_create(owner=owner, preset="general")
