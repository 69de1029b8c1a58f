"""Date inputs keep their value in every language; displayed dates follow the locale.

``<input type="date">`` only accepts ``YYYY-MM-DD``. Rendered in the locale's format
(``21.10.2026`` in ro/uk/ru, ``21/10/2026`` in fr) the browser drops it, the field comes
up empty, and saving the form wipes the date.
"""

from __future__ import annotations

import importlib
import inspect
import re
from datetime import date, datetime

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from aftercare.lib import widgets

LANGUAGES = ["en", "ro", "fr", "uk", "ru"]
FORM_MODULES = [
    "aftercare.accounts.forms",
    "aftercare.api.forms",
    "aftercare.console.forms",
    "aftercare.desk.forms",
    "aftercare.lifecycle.forms",
    "aftercare.projects.forms",
    "aftercare.saas.forms",
]
DAY = date(2026, 10, 21)


@pytest.fixture(autouse=True)
def _english_afterwards():
    """The preferences middleware leaves the user's language active in the test thread."""
    yield
    translation.activate("en")


def _date_fields():
    found = []
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, forms.BaseForm) or cls.__module__ != name:
                continue
            for field_name, field in cls.base_fields.items():
                if isinstance(field, forms.DateField | forms.DateTimeField):
                    found.append(pytest.param(field, id=f"{cls_name}.{field_name}"))
    return found


DATE_FIELDS = _date_fields()


def test_the_scan_finds_the_date_fields():
    assert len(DATE_FIELDS) >= 10


@pytest.mark.parametrize("field", DATE_FIELDS)
def test_every_date_field_uses_an_iso_widget(field):
    expected = (
        widgets.DateTimeInput if isinstance(field, forms.DateTimeField) else widgets.DateInput
    )
    assert isinstance(field.widget, expected)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("field", DATE_FIELDS)
def test_the_value_renders_as_iso_and_parses_back(field, language):
    with translation.override(language), timezone.override("Europe/Bucharest"):
        if isinstance(field, forms.DateTimeField):
            value = timezone.make_aware(datetime(2026, 10, 21, 9, 30))
            expected = "2026-10-21T09:30"
        else:
            value, expected = DAY, "2026-10-21"
        html = field.widget.render("when", field.prepare_value(value))
        assert f'value="{expected}"' in html
        assert re.search(r'type="(date|datetime-local)"', html)
        assert field.clean(expected) == value


# -- through the pages: the SaaS schedule form (the reported case) -----------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ro", "fr", "uk", "ru"])
def test_the_schedule_form_keeps_its_date_in_every_language(
    language, org, consultant, coordinator, client_for
):
    from aftercare.saas.tests import factories as f

    migration = f.lead(organisation=org)
    f.confirmed(migration, consultant, coordinator)
    consultant.language = language
    consultant.save(update_fields=["language"])
    client = client_for(consultant)
    saturday = f.next_saturday()
    client.post(
        reverse("saas:schedule", args=[migration.pk]),
        {"scheduled_for": saturday.isoformat(), "target_site": "alpha.saas.example"},
    )
    migration.refresh_from_db()
    assert migration.scheduled_for == saturday
    page = client.get(reverse("saas:detail", args=[migration.pk])).content.decode()
    value = re.search(r'<input[^>]*name="scheduled_for"[^>]*>', page).group(0)
    assert f'value="{saturday.isoformat()}"' in value, value
    assert 'type="date"' in value
    # Saved again unchanged (as a person pressing "Save" would): the date stays.
    client.post(
        reverse("saas:schedule", args=[migration.pk]),
        {"scheduled_for": saturday.isoformat(), "target_site": "alpha.saas.example"},
    )
    migration.refresh_from_db()
    assert migration.scheduled_for == saturday
    # Shown as text, the date is in the language's own format.
    with translation.override(language):
        local = date_format(saturday, "SHORT_DATE_FORMAT")
    assert local != saturday.isoformat()


@pytest.mark.parametrize(
    ("language", "shown"),
    [("ro", "21.10.2026"), ("fr", "21/10/2026"), ("uk", "21.10.2026"), ("ru", "21.10.2026")],
)
def test_displayed_dates_use_the_locale_format(language, shown):
    from django.template import Context, Template

    with translation.override(language):
        text = Template('{{ day|date:"SHORT_DATE_FORMAT" }}').render(Context({"day": DAY}))
    assert text == shown


def test_no_template_displays_a_fixed_numeric_date():
    from pathlib import Path

    import aftercare

    root = Path(aftercare.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.glob("*/templates/**/*.html")
        if re.search(r'\|date:"Y-m-d', path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
