"""What every HTTP answer of real daphne carries: the security headers (static files too, which Django's middleware
never sees) and no Server header naming the software."""

import requests


def test_static_files_carry_the_security_headers_and_nothing_names_the_server(platform):
    for path in ("/static/css/portal.css", "/static/js/chat.js", "/accounts/login/", "/api/health/"):
        response = requests.get(platform.base_url + path, timeout=5)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'"), path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert "Server" not in response.headers, (path, response.headers.get("Server"))
