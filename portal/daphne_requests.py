"""daphne's HTTP requests without twisted's own parsing of form bodies.

twisted.web parses every POST with a Content-Type into `request.args`: it builds an email.message.Message just to
read the media type (~40 µs, and ~6 % of daphne's CPU under chat API load in a profile), and for form posts it
parses the whole body, multipart uploads included. daphne never reads `request.args`: it hands the raw body to the
ASGI application, where Django parses forms itself. twisted's documented switch for this is the Request's
`parsePOSTFormSubmission` argument, which daphne does not expose, so it is set here for daphne's request class.
"""
from __future__ import annotations

from daphne import http_protocol


def skip_twisted_form_parsing() -> None:
    """Make daphne's requests pass parsePOSTFormSubmission=False to twisted (idempotent)."""
    request_class = http_protocol.WebRequest
    if getattr(request_class.__init__, "skips_form_parsing", False):
        return
    original_init = request_class.__init__

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        original_init(self, *args, **kwargs)

    __init__.skips_form_parsing = True
    request_class.__init__ = __init__
