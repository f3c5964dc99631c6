"""daphne's requests skip twisted's own form parsing (portal/daphne_requests.py); Django parses bodies itself.

Form posts through the real daphne (the login form, the admin) are exercised by the browser and API tests."""
from types import SimpleNamespace

from daphne.http_protocol import WebRequest
from twisted.web.test.requesthelper import DummyChannel

from portal.daphne_requests import skip_twisted_form_parsing


def new_request() -> WebRequest:
    channel = DummyChannel()
    channel.factory = SimpleNamespace(server=SimpleNamespace(protocol_connected=lambda request: None))
    return WebRequest(channel)


def test_daphnes_requests_leave_form_bodies_to_django():
    import portal.asgi  # noqa: F401 - what daphne imports: it applies the setting

    assert new_request()._parsePOSTFormSubmission is False


def test_applying_it_twice_wraps_once():
    wrapped = WebRequest.__init__
    skip_twisted_form_parsing()
    assert WebRequest.__init__ is wrapped
    assert new_request()._parsePOSTFormSubmission is False
