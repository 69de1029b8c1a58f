"""Select boxes made in Python (``FORM_RENDERER``) write what Django's templates write."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from aftercare.lib.widgets import DateInput, DateTimeInput, FormRenderer


def _tags(html: str) -> str:
    # Django's template puts newlines and indentation between the tags; nothing else differs.
    return re.sub(r">\s+<", "><", str(html)).strip()


CHOICES = [
    ("", "Any"),
    ("a&b", 'Tom & "Jerry" <script>'),
    ("Group", [(1, "One"), (2, "Two")]),
    (3, "Three"),
]
ATTRS = {"data-x": 'say "hi"', "disabled": True, "hidden": False, "class": "a b", "n": 7}


class Form(forms.Form):
    pick = forms.ChoiceField(choices=CHOICES)
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    fancy = forms.ChoiceField(choices=CHOICES, widget=forms.Select(attrs=ATTRS))
    maybe = forms.NullBooleanField()
    month = forms.DateField(widget=forms.SelectDateWidget(years=[2026]))
    text = forms.CharField(widget=forms.TextInput(attrs=ATTRS))
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    hidden = forms.IntegerField(widget=forms.HiddenInput, required=False)
    number = forms.DecimalField(required=False)
    flag = forms.BooleanField(required=False)
    mail = forms.EmailField(required=False)
    day = forms.DateField(widget=DateInput, required=False)
    when = forms.DateTimeField(widget=DateTimeInput, required=False)
    note = forms.CharField(widget=forms.Textarea, required=False)


def _both(data, field):
    ours = _tags(Form(data, renderer=FormRenderer())[field])
    django = _tags(Form(data, renderer=DjangoTemplates())[field])
    return ours, django


FILLED = {
    "pick": "2",
    "many": ["a&b", "3"],
    "fancy": "a&b",
    "maybe": "true",
    "text": 'a "b" <c>',
    "secret": "hunter2",
    "hidden": "7",
    "number": "1.50",
    "flag": "on",
    "mail": "x@example.test",
    "day": "2026-03-02",
    "when": "2026-03-02T10:30",
    "note": "\nfirst line\n<b>bold</b> & more",
}
WRONG = {"pick": "x", "hidden": "seven", "number": "many", "day": "yesterday", "note": ""}


@pytest.mark.parametrize("field", list(Form.base_fields))
@pytest.mark.parametrize("data", [None, FILLED, WRONG], ids=["unbound", "filled", "wrong"])
def test_the_markup_is_djangos(field, data):
    ours, django = _both(data, field)
    assert ours == django


def test_selected_values_groups_attributes_and_escaping_are_there():
    ours, _django = _both({"pick": "2", "many": ["a&b", "3"], "fancy": "a&b"}, "fancy")
    assert 'data-x="say &quot;hi&quot;"' in ours and " disabled" in ours
    assert "hidden" not in ours and 'n="7"' in ours
    assert '<option value="a&amp;b" selected>Tom &amp; &quot;Jerry&quot; &lt;script&gt;' in ours
    assert '<optgroup label="Group"><option value="1">One</option>' in ours
    many, _django = _both({"many": ["a&b", "3"]}, "many")
    assert many.startswith('<select name="many"') and " multiple" in many
    assert '<option value="3" selected>Three</option>' in many


def test_inputs_and_text_areas_keep_values_escaped():
    text, _django = _both(FILLED, "text")
    assert text.startswith('<input type="text" name="text" value="a &quot;b&quot; &lt;c&gt;"')
    assert " disabled" in text
    assert _both(FILLED, "secret")[0] == '<input type="password" name="secret" id="id_secret">'
    assert _both(FILLED, "flag")[0].endswith(" checked>")
    note, _django = _both(FILLED, "note")
    assert note.endswith(">\n\nfirst line\n&lt;b&gt;bold&lt;/b&gt; &amp; more</textarea>")


def test_a_widget_with_its_own_option_template_still_uses_it(settings):
    class Marked(forms.Select):
        option_template_name = "django/forms/widgets/input.html"  # any other template

    class One(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES, widget=Marked)

    html = str(One(renderer=FormRenderer())["pick"])
    assert html == str(One(renderer=DjangoTemplates())["pick"])
    assert "<input" in html  # the widget's own template, not our options


def test_the_project_uses_it(settings):
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FormRenderer)
