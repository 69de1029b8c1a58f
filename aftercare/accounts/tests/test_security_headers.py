"""Security headers on every page, no inline code in any page template, and the
production switches (HSTS, secure cookies, the proxy header)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from aftercare.accounts.security import DEFAULT_POLICY

pytestmark = pytest.mark.django_db

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


def _assert_headers(response, *, html: bool = True) -> None:
    if html:
        assert response["Content-Security-Policy"] == CSP
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_default_policy_is_the_documented_one():
    assert DEFAULT_POLICY == CSP == settings.AFTERCARE_CSP


def test_every_kind_of_page_carries_the_headers(ticket, owner, operator, client_for):
    anonymous = Client()
    staff = client_for(operator)
    customer = client_for(owner)
    pages = [
        (anonymous, reverse("accounts:login")),
        (staff, reverse("console:queue")),
        (staff, reverse("console:board")),
        (staff, reverse("console:ticket", args=[ticket.number])),
        (customer, reverse("portal:list")),
        (customer, reverse("portal:detail", args=[ticket.number])),
        (customer, reverse("accounts:profile")),
        (customer, reverse("accounts:2fa")),
        (anonymous, reverse("api:docs")),
    ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html"), path
        _assert_headers(response)
    # Redirects and JSON get the other headers (a CSP is for documents).
    _assert_headers(anonymous.get(reverse("console:queue")), html=False)
    api = customer.get("/api/v1/me")
    assert api.status_code == 200
    _assert_headers(api, html=False)


def test_the_policy_can_be_relaxed_for_one_path(settings, client):
    settings.AFTERCARE_CSP_RELAXED_PATHS = ["/api/docs"]
    assert "'unsafe-inline'" in client.get(reverse("api:docs"))["Content-Security-Policy"]
    assert client.get(reverse("accounts:login"))["Content-Security-Policy"] == CSP


TEMPLATE_ROOT = Path(settings.BASE_DIR)
# E-mail bodies and PDF sources (WeasyPrint) are not web pages: no CSP applies to them.
NOT_PAGES = re.compile(r"/templates/mail/notify\.html$|/templates/documents/")
INLINE = [
    (
        re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
        "inline <script>",
    ),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style[\s>]", re.I), "<style> element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_page_template_has_inline_script_handlers_or_styles():
    found = []
    for path in sorted(TEMPLATE_ROOT.rglob("templates/**/*.html")):
        if NOT_PAGES.search(path.as_posix()):
            continue
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATE_ROOT)}:{line}: {what}")
    assert not found, "Blocked by the CSP:\n" + "\n".join(found)


def _settings_in(env: dict[str, str]) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ("
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_SECURE', "
        "'CSRF_COOKIE_SECURE', 'SECURE_PROXY_SSL_HEADER', 'SECURE_SSL_REDIRECT', "
        "'AFTERCARE_2FA_REQUIRED_FOR')}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCARE_", "DEBUG"))}
    base.update(DJANGO_SETTINGS_MODULE="aftercare.settings", **env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_mode_turns_on_hsts_and_secure_cookies(tmp_path):
    prod = {
        "AFTERCARE_MODE": "production",
        "SECRET_KEY": "x" * 50,
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_2FA_REQUIRED_FOR": "admin, manager",
    }
    found = _settings_in(prod)
    assert found["SECURE_HSTS_SECONDS"] == 31536000
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SESSION_COOKIE_SECURE"] is True and found["CSRF_COOKIE_SECURE"] is True
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["AFTERCARE_2FA_REQUIRED_FOR"] == ["admin", "manager"]
    direct = _settings_in({**prod, "AFTERCARE_BEHIND_PROXY": "0"})
    assert direct["SECURE_PROXY_SSL_HEADER"] is None
    dev = _settings_in({"AFTERCARE_DATA_DIR": str(tmp_path)})
    assert not dev["SECURE_HSTS_SECONDS"] and not dev["SESSION_COOKIE_SECURE"]
    assert dev["AFTERCARE_2FA_REQUIRED_FOR"] == []
