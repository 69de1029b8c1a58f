"""The Python-made ``Select`` writes what Django's template-made one writes."""

from __future__ import annotations

import re

from django import forms

from aftercare.lib.widgets import Select


def _tags(html: str) -> str:
    # Django's template puts newlines and indentation between the tags; nothing else differs.
    return re.sub(r">\s+<", "><", str(html)).strip()


CHOICES = [
    ("", "Any"),
    ("a&b", 'Tom & "Jerry" <script>'),
    ("Group", [(1, "One"), (2, "Two")]),
    (3, "Three"),
]


def _pair(**field_kwargs):
    class Django(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES, **field_kwargs)

    class Ours(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES, widget=Select, **field_kwargs)

    return Django, Ours


def test_the_markup_is_djangos_for_a_bound_value_groups_and_escaping():
    django_form, our_form = _pair(required=True)
    for data in ({"pick": "2"}, {"pick": "a&b"}, None):
        expected = _tags(django_form(data)["pick"])
        ours = _tags(our_form(data)["pick"])
        assert ours == expected
    assert 'value="2" selected' in _tags(our_form({"pick": "2"})["pick"])
    assert "&lt;script&gt;" in ours and "<script>" not in ours


def test_attributes_true_false_and_quoted_values_are_written_as_django_writes_them():
    attrs = {"data-x": 'say "hi"', "disabled": True, "hidden": False, "class": "a b"}

    class Django(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES, widget=forms.Select(attrs=attrs))

    class Ours(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES, widget=Select(attrs=attrs))

    assert _tags(Ours()["pick"]) == _tags(Django()["pick"])
    assert " disabled" in str(Ours()["pick"]) and "hidden" not in str(Ours()["pick"])
