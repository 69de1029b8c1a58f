"""Date widgets that browsers can fill in, in every language.

``<input type="date">`` accepts only ``YYYY-MM-DD`` (``datetime-local`` only
``YYYY-MM-DDTHH:MM``) and shows it in the reader's own format. Django's default widgets
render the active locale's first input format instead (``21.10.2026`` in ro/fr/uk/ru),
which the browser drops, so the field comes up empty and saving wipes the date. These
widgets always render ISO; the form fields parse ISO in every locale (Django adds the ISO
formats to each locale's input formats), so a round trip leaves the value unchanged.
"""

from __future__ import annotations

from django import forms

ISO_DATE = "%Y-%m-%d"
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format=ISO_DATE)


class DateTimeInput(forms.DateTimeInput):
    """A ``datetime-local`` input; the value is in the current time zone, to the minute."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format=ISO_DATETIME_LOCAL)
