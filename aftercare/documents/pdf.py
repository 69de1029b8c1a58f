"""PDF rendering with WeasyPrint: a Django template in a given language becomes a PDF.

Templates extend ``documents/base.html``, whose CSS is embedded (no stylesheet is fetched,
no URL is resolved): a document renders the same on a worker without network access. The
font is DejaVu Sans, which covers Latin with Romanian diacritics (ș ț ă î â) and Cyrillic,
so one template serves all five UI languages.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation


def _fetcher():
    """Documents must be self-contained: only inline ``data:`` URLs load; a template that
    links anything else renders without it instead of making the server fetch a URL
    (SSRF, slow renders)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, timeout=1)


def render_html(template_name: str, context: dict[str, Any], language: str) -> str:
    codes = dict(settings.LANGUAGES)
    language = language if language in codes else settings.LANGUAGE_CODE
    with translation.override(language):
        return render_to_string(template_name, {**context, "LANGUAGE_CODE": language})


def render_pdf(template_name: str, context: dict[str, Any], language: str) -> bytes:
    """The PDF bytes of ``template_name`` rendered with ``context`` in ``language``."""
    from weasyprint import HTML

    html = render_html(template_name, context, language)
    return HTML(string=html, url_fetcher=_fetcher(), base_url=".").write_pdf()
