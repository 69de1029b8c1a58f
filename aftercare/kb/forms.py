"""Forms check the shape of input; the rules live in ``services`` (errors come back to
the form from the service's ``ValidationError``)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from aftercare.kb.models import Article, ArticleText
from aftercare.lifecycle.models import Product


class ArticleForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=Article.Kind.choices)
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Article.Visibility.choices)
    version_from = forms.CharField(
        label=_("From version"),
        required=False,
        max_length=64,
        help_text=Article._meta.get_field("version_from").help_text,
    )
    version_to = forms.CharField(
        label=_("To version"),
        required=False,
        max_length=64,
        help_text=Article._meta.get_field("version_to").help_text,
    )
    video_url = forms.CharField(
        label=_("Video link"),
        required=False,
        max_length=500,
        help_text=Article._meta.get_field("video_url").help_text,
    )

    def __init__(self, *args, products=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products if products is not None else Product.objects


class NewArticleForm(ArticleForm):
    """The article with its first text."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    title = forms.CharField(label=_("Title"), max_length=250)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=ArticleText._meta.get_field("body").help_text,
    )


class TextForm(forms.Form):
    """One language's title and text (the language comes from the page, per form)."""

    title = forms.CharField(label=_("Title"), max_length=250)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=ArticleText._meta.get_field("body").help_text,
    )


def add_service_errors(form: forms.Form, exc) -> None:
    """Put a service's ValidationError on the form's fields (or on the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        for message in exc.messages:
            form.add_error(None, message)
