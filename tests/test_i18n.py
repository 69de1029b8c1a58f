"""Every catalog is complete, compiled, and in step with the strings in the code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from conftest import require_service

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGS = [code for code, _name in settings.LANGUAGES]


@pytest.mark.parametrize("lang", LANGS)
def test_catalog_is_complete_and_not_fuzzy(lang):
    po = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{lang}: {len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_catalog_matches_the_source(lang):
    po = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    mo_path = LOCALE / lang / "LC_MESSAGES" / "django.mo"
    assert mo_path.exists(), f"{mo_path} missing: run `make compile-messages`"
    mo = polib.mofile(str(mo_path))
    source = {(e.msgid, e.msgstr or tuple(sorted(e.msgstr_plural.items()))) for e in po if e.msgid}
    compiled = {
        (e.msgid, e.msgstr or tuple(sorted(e.msgstr_plural.items()))) for e in mo if e.msgid
    }
    assert source == compiled, f"{lang}: django.mo is stale, run `make compile-messages`"


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_survive_translation(lang):
    import re

    pattern = re.compile(r"%\([a-z_]+\)[sd]")
    po = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    for entry in po:
        wanted = set(pattern.findall(entry.msgid))
        targets = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for text in targets:
            assert set(pattern.findall(text)) <= wanted | set(
                pattern.findall(entry.msgid_plural or "")
            ), (lang, entry.msgid, text)


def test_catalogs_hold_every_string_in_the_code(tmp_path):
    """Extract the strings afresh and compare: a new string without translation fails."""
    if not shutil.which("xgettext"):
        require_service("GNU gettext (xgettext)", "apt-get install gettext")
    copy = tmp_path / "aftercare"
    shutil.copytree(
        settings.BASE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static")
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aftercare.settings"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "ro",
            "--no-location",
            "--no-obsolete",
        ],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = {e.msgid for e in polib.pofile(str(copy / "locale/ro/LC_MESSAGES/django.po"))}
    for lang in LANGS:
        have = {e.msgid for e in polib.pofile(str(LOCALE / lang / "LC_MESSAGES/django.po"))}
        missing = fresh - have
        assert not missing, f"{lang}: run `make messages` and translate: {sorted(missing)[:5]}"
