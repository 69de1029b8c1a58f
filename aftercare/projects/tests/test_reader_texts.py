"""Template texts (stages, tasks, criteria) in the reader's language while unedited."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from aftercare.projects.default_texts import DEFAULT_TEXTS
from aftercare.projects.defaults import DEFAULT_NAME, STAGES
from aftercare.projects.models import Stage
from aftercare.projects.templatetags.project_texts import reader_text

pytestmark = pytest.mark.django_db


def test_the_marked_texts_are_exactly_the_default_templates():
    texts = {DEFAULT_NAME}
    for title, _kind, _days, tasks, criteria in STAGES:
        texts |= {title, *tasks, *(c[0] for c in criteria)}
    assert texts == set(DEFAULT_TEXTS)


def test_an_unedited_text_follows_the_reader_and_an_edited_one_stays_as_typed():
    with translation.override("fr"):
        assert reader_text("Credentials distributed") != "Credentials distributed"
        assert reader_text("Our own stage, typed by a manager") == (
            "Our own stage, typed by a manager"
        )


def test_the_portal_plan_shows_the_stages_in_the_customers_language(
    project, client_for, coordinator
):
    coordinator.language = "uk"
    coordinator.save(update_fields=["language"])
    first = Stage.objects.filter(project=project).order_by("position").first()
    with translation.override("uk"):
        expected = translation.gettext(first.title)
    assert expected != first.title
    html = (
        client_for(coordinator)
        .get(reverse("project_portal:detail", args=[project.pk]))
        .content.decode()
    )
    assert expected in html
