"""System notes are shown in the reader's language, not in the one they were written in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from aftercare.accounts.roles import PermSet
from aftercare.desk import services
from aftercare.desk.models import Event, Status
from aftercare.desk.notes import deferred, render
from aftercare.desk.timeline import build_timeline

pytestmark = pytest.mark.django_db

ARCHIVED = {
    "en": "Archived automatically 7 days after release.",
    "ro": "Arhivat automat la 7 zile după livrare.",
    "fr": "Archivée automatiquement 7 jours après la livraison.",
    "ru": "Автоматически перемещено в архив через 7 дн. после выпуска.",
}


@pytest.fixture
def archived(ticket, consultant):
    for target in (Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    with translation.override("en"):
        services.archive_released(now=timezone.now() + timedelta(days=8), days=7)
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED
    return ticket


def _note(ticket) -> Event:
    return Event.objects.get(ticket=ticket, field="status", new=Status.ARCHIVED)


def test_the_archive_note_is_stored_as_a_message_and_rendered_per_reader(archived):
    event = _note(archived)
    assert event.note == ARCHIVED["en"]  # what exports and webhooks show
    assert event.note_id == "Archived automatically %(days)d days after release."
    assert event.note_params == {"days": 7}
    for language, text in ARCHIVED.items():
        with translation.override(language):
            assert event.display_note == text


def test_the_timeline_shows_the_note_in_each_readers_language(archived, owner, manager, client_for):
    owner.language = "fr"
    owner.save()
    manager.language = "ro"
    manager.save()
    portal = client_for(owner).get(reverse("portal:detail", args=[archived.number]))
    assert ARCHIVED["fr"] in portal.content.decode()
    assert ARCHIVED["en"] not in portal.content.decode()
    console = client_for(manager).get(reverse("console:ticket", args=[archived.number]))
    assert ARCHIVED["ro"] in console.content.decode()
    with translation.override("ru"):
        notes = [e.note for e in build_timeline(PermSet(manager), archived) if e.note]
    assert ARCHIVED["ru"] in notes


def test_another_organisations_people_never_see_the_note(
    archived, outsider, other_org, operator, client_for
):
    from aftercare.tenancy.models import AgentRestriction

    response = client_for(outsider).get(reverse("portal:detail", args=[archived.number]))
    assert response.status_code == 404
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    response = client_for(operator).get(reverse("console:ticket", args=[archived.number]))
    assert response.status_code == 404
    for text in ARCHIVED.values():
        assert text not in response.content.decode()


def test_the_customers_reply_note_follows_the_reader(ticket, consultant, owner):
    services.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    services.transition(ticket=ticket, actor=consultant, target=Status.WAITING)
    with translation.override("en"):
        services.reply(ticket=ticket, actor=owner, body="Here is the screenshot.")
    event = Event.objects.filter(ticket=ticket, field="status").last()
    assert event.note_id == "The customer replied."
    with translation.override("uk"):
        assert event.display_note == "Клієнт відповів."
    assert event.note == "The customer replied."


def test_a_note_that_cannot_be_rendered_falls_back_to_the_stored_text():
    assert render("%(days)d days", {"weeks": 2}, "stored text") == "stored text"
    assert render("%(days)d days", {"days": "x"}, "stored") == "stored"
    note = deferred("Archived automatically %(days)d days after release.", days=3)
    with translation.override("ro"):
        assert str(note) == "Arhivat automat la 3 zile după livrare."
    assert render("plain", {}) == "plain"
    # A parameter that is a message itself is translated too.
    with translation.override("fr"):
        assert render("%(metric)s target missed", {"metric": {"msgid": "Resolution"}}) != (
            "Resolution target missed"
        )
