"""Date widgets that browsers can fill in, in every language; select boxes, inputs and text
areas rendered in Python rather than through a template per option.

``<input type="date">`` accepts only ``YYYY-MM-DD`` (``datetime-local`` only
``YYYY-MM-DDTHH:MM``) and shows it in the reader's own format. Django's default widgets
render the active locale's first input format instead (``21.10.2026`` in ro/fr/uk/ru),
which the browser drops, so the field comes up empty and saving wipes the date. These
widgets always render ISO; the form fields parse ISO in every locale (Django adds the ISO
formats to each locale's input formats), so a round trip leaves the value unchanged.
"""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

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


SELECT = "django/forms/widgets/select.html"
TEXTAREA = "django/forms/widgets/textarea.html"
# The input widgets whose template is only ``{% include "…/input.html" %}`` (not the
# file inputs, nor the options of radio and checkbox lists, which have their own).
INPUTS = {
    f"django/forms/widgets/{name}.html"
    for name in (
        "input checkbox color date datetime email hidden number password search tel text time url"
    ).split()
}
SELECT_OPTION = "django/forms/widgets/select_option.html"


class FormRenderer(DjangoTemplates):
    """Django's renderer (``FORM_RENDERER``), with select boxes, inputs and text areas made
    in Python.

    Django's ``select.html`` includes two templates per option, so a page with a few
    select boxes of agents, organisations and statuses spent a sixth of its time there
    (the queue's filter form has over a hundred options), and a request page renders forty
    inputs. The markup is the same; a widget whose options use a template of their own, and
    every other widget, still goes through the templates."""

    def render(self, template_name, context, request=None):
        if template_name in INPUTS:
            return input_html(context["widget"])
        if template_name == TEXTAREA:
            return textarea_html(context["widget"])
        if template_name == SELECT:
            widget = context["widget"]
            if all(
                option["template_name"] == SELECT_OPTION
                for _group, options, _index in widget["optgroups"]
                for option in options
            ):
                return select_html(widget)
        return super().render(template_name, context, request=request)


def input_html(widget: dict) -> str:
    """``django/forms/widgets/input.html`` (text, hidden, number, checkbox, date…)."""
    value = widget["value"]
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        format_html(' value="{}"', str(value)) if value is not None else "",
        _attrs(widget["attrs"]),
    )


def textarea_html(widget: dict) -> str:
    """``django/forms/widgets/textarea.html``: the value after a newline, as browsers drop
    the first one."""
    return format_html(
        '<textarea name="{}"{}>\n{}</textarea>',
        widget["name"],
        _attrs(widget["attrs"]),
        widget["value"] or "",
    )


def select_html(widget: dict) -> str:
    """``django/forms/widgets/select.html`` for a widget's context, without templates."""
    parts = [format_html('<select name="{}"{}>', widget["name"], _attrs(widget["attrs"]))]
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(format_html('<optgroup label="{}">', group_name))
        parts.extend(
            format_html(
                '<option value="{}"{}>{}</option>',
                str(option["value"]),
                _attrs(option["attrs"]),
                option["label"],
            )
            for option in options
        )
        if group_name:
            parts.append("</optgroup>")
    parts.append("</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every part went through format_html


def _attrs(attrs: dict) -> str:
    # As django/forms/widgets/attrs.html: False leaves the attribute out, True writes its
    # name alone, anything else name="value", escaped.
    return format_html_join(
        "",
        "{}{}",
        (
            (f" {name}", "" if value is True else format_html('="{}"', str(value)))
            for name, value in attrs.items()
            if value is not False
        ),
    )
