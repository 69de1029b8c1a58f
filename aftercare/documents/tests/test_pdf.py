from __future__ import annotations

import pytest
from django.test import override_settings

from aftercare.documents.pdf import render_html, render_pdf
from aftercare.documents.testing import pdf_text

TEMPLATES_DIR = __import__("pathlib").Path(__file__).parent / "templates"

# "Reference" in each UI language (from the project's catalogues).
REFERENCE = {
    "en": "Reference",
    "ro": "Referință",
    "fr": "Référence",
    "uk": "Ідентифікатор",
    "ru": "Идентификатор",
}
TEXT = "Șantier țară ăîâ — Київ, Москва — façade"


@pytest.fixture(autouse=True)
def _sample_template(settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}
    ]


@pytest.mark.parametrize("language", sorted(REFERENCE))
def test_it_renders_a_pdf_in_each_language_with_its_letters(language):
    pdf = render_pdf("documents_test/sample.html", {"ref": "R-1", "text": TEXT}, language)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert f"{REFERENCE[language]}: R-1" in text
    for word in ("Șantier", "țară", "ăîâ", "Київ", "Москва", "façade"):
        assert word in text, (language, word, text)


def test_it_embeds_the_dejavu_font():
    import shutil
    import subprocess

    pdf = render_pdf("documents_test/sample.html", {"ref": "R-2", "text": TEXT}, "ro")
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts is missing: apt-get install poppler-utils")
    fonts = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True).stdout
    assert b"DejaVu-Sans" in fonts or b"DejaVuSans" in fonts


def test_it_falls_back_to_the_default_language_for_an_unknown_code():
    html = render_html("documents_test/sample.html", {"ref": "R-3", "text": ""}, "xx")
    assert 'lang="en"' in html
    assert "Reference: R-3" in html


@override_settings()
def test_it_refuses_to_fetch_anything_a_template_links(settings, tmp_path):
    (tmp_path / "documents_test").mkdir()
    (tmp_path / "documents_test" / "linked.html").write_text(
        '{% extends "documents/base.html" %}{% block content %}'
        '<img src="http://127.0.0.1:9/x.png">ok{% endblock %}'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}
    ]
    # WeasyPrint reports the refused fetch and renders without the image.
    pdf = render_pdf("documents_test/linked.html", {}, "en")
    assert "ok" in pdf_text(pdf)
